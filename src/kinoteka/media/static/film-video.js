// The admin film page's video control: a resumable tus upload with a progress bar, then the
// video's processing status, progress and failure reason, polled while something is running.
(function () {
  "use strict";
  const root = document.getElementById("kinoteka-media");
  if (!root || !window.tus) return;
  const headers = { "Upload-Ticket": root.dataset.ticket };
  const input = root.querySelector("input[type=file]");
  const bar = root.querySelector("progress");
  const state = root.querySelector(".kinoteka-media-upload-state");
  const rows = root.querySelector(".kinoteka-media-videos");
  let polling = null;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function render(videos) {
    rows.replaceChildren();
    for (const video of videos) {
      const tr = document.createElement("tr");
      tr.append(
        cell(video.source_name),
        cell(video.status + (video.current_version ? " (playing v" + video.current_version + ")" : "")
          + (video.artwork_pending ? ", artwork in progress" : "")),
        cell(Math.round(video.progress) + " %"),
        cell(video.failure_reason || (video.artwork_error ? "artwork: " + video.artwork_error : "")),
        cell(new Date(video.created).toLocaleString()),
      );
      rows.append(tr);
    }
    const busy = videos.some((v) => v.artwork_pending
      || ["uploaded", "probing", "transcoding"].includes(v.status));
    if (busy && !polling) polling = setInterval(refresh, 2000);
    if (!busy && polling) { clearInterval(polling); polling = null; }
  }

  function refresh() {
    fetch(root.dataset.status, { headers }).then((r) => (r.ok ? r.json() : [])).then(render);
  }

  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    bar.hidden = false;
    bar.value = 0;
    const upload = new tus.Upload(file, {
      endpoint: root.dataset.endpoint,
      headers,
      chunkSize: 16 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata: { filename: file.name, film_id: root.dataset.film },
      onProgress(sent, total) {
        bar.value = (sent / total) * 100;
        state.textContent = "Uploading " + file.name + ": " + Math.floor((sent / total) * 100) + " %";
      },
      onError(error) {
        const body = error.originalResponse && error.originalResponse.getBody();
        let reason = error.message;
        try { reason = JSON.parse(body).detail || reason; } catch (_) { /* not JSON */ }
        state.textContent = "Upload failed: " + reason;
      },
      onSuccess() {
        state.textContent = "Uploaded " + file.name + "; processing.";
        input.value = "";
        refresh();
      },
    });
    // An upload of the same file interrupted earlier (tab closed, network gone) resumes.
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  });
  refresh();
})();
