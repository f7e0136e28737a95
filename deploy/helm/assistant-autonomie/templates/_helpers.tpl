{{/* Names, labels and URLs shared by every template. */}}

{{- define "aa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aa.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "aa.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "aa.secretName" -}}
{{- default (printf "%s-secrets" (include "aa.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "aa.qdrantHeadless" -}}
{{- printf "%s-qdrant-headless" (include "aa.fullname" .) -}}
{{- end -}}

{{- define "aa.qdrantUrl" -}}
{{- printf "http://%s-qdrant:6333" (include "aa.fullname" .) -}}
{{- end -}}

{{- define "aa.llmBaseUrl" -}}
{{- if .Values.vllm.enabled -}}
{{- printf "http://%s-vllm:8000/v1" (include "aa.fullname" .) -}}
{{- else -}}
{{- required "llm.externalBaseUrl est obligatoire quand vllm.enabled=false" .Values.llm.externalBaseUrl -}}
{{- end -}}
{{- end -}}

{{- define "aa.assistantImage" -}}
{{- printf "%s:%s" .Values.assistant.image.repository (.Values.assistant.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The two API keys as environment variables of the assistant and of the ingestion Job. */}}
{{- define "aa.secretEnv" -}}
- name: AUTONOMIE_QDRANT__API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "aa.secretName" . }}
      key: qdrant-api-key
- name: AUTONOMIE_LLM__API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "aa.secretName" . }}
      key: llm-api-key
{{- end -}}

{{/* Fails the rendering on values that cannot work. */}}
{{- define "aa.validate" -}}
{{- $q := .Values.qdrant -}}
{{- if and (not $q.cluster.enabled) (gt (int $q.replicas) 1) -}}
{{- fail "qdrant.replicas > 1 demande qdrant.cluster.enabled=true" -}}
{{- end -}}
{{- if gt (int $q.replicationFactor) (int $q.replicas) -}}
{{- fail (printf "qdrant.replicationFactor (%d) ne peut dépasser qdrant.replicas (%d)" (int $q.replicationFactor) (int $q.replicas)) -}}
{{- end -}}
{{- end -}}
