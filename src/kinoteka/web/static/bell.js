// The header bell: the unread count, live from the page's Server-Sent Events stream.
(() => {
  const bell = document.querySelector("[data-bell]");
  if (!bell || !window.EventSource) return;
  const count = bell.querySelector("[data-unread]");
  const label = (n) => bell.dataset.label.replace("{n}", String(n));
  const source = new EventSource(bell.dataset.stream);
  source.addEventListener("open", () => { bell.dataset.live = "true"; });
  source.addEventListener("error", () => { delete bell.dataset.live; });  // it reconnects
  source.addEventListener("unread", (event) => {
    const n = Number.parseInt(event.data, 10) || 0;
    count.textContent = String(n);
    count.hidden = n === 0;
    bell.setAttribute("aria-label", label(n));
  });
  window.addEventListener("pagehide", () => source.close());
})();
