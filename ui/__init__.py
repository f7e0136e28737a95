"""The server: chat UI (Gradio) and HTTP API (FastAPI) in one process."""
