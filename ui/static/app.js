// Citation markers [n] in answers are links "#cite-<turn>-<n>": a click (or Enter) opens the source
// panel through the hidden "cite-open" button, whose event reads window.autonomieCite.
(() => {
  const open = (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    const target = (link.getAttribute('href') || '').replace(/^#cite-/, '');
    if (!target) return;
    event.preventDefault();
    event.stopPropagation();
    window.autonomieCite = target;
    const button = document.getElementById('cite-open');
    if (button) button.click();
    const panel = document.getElementById('source-panel');
    if (panel) panel.scrollIntoView({ block: 'nearest' });
  };
  document.addEventListener('click', open, true);
  // The page is French whatever the browser's language (Gradio's own labels follow the browser's).
  const setLang = () => { if (document.documentElement.lang !== 'fr') document.documentElement.lang = 'fr'; };
  setLang();
  new MutationObserver(setLang).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
})();
