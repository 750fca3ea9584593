// The film player: hls.js (native HLS where the browser has it, MSE absent), dash.js as the
// second path; quality menu, seek thumbnails from the sprite VTT, keys, resume, events.
const root = document.getElementById("player");
const video = document.getElementById("video");
const seek = document.getElementById("seek");
const quality = document.getElementById("quality");
const errorBox = root.querySelector(".player-error");
const playButton = root.querySelector(".play-toggle");
const muteButton = root.querySelector(".mute");
const thumb = root.querySelector(".thumb");
const thumbImage = root.querySelector(".thumb-image");
const thumbTime = root.querySelector(".thumb-time");
const data = root.dataset;
const filmId = data.film;
const startAt = parseFloat(data.start || "0") || 0;
const SCHEMA_VERSION = 1;
const HEARTBEAT_MS = 10000;
const BATCH_EVENTS = 50; // a batch closes at this many events (the collector takes 500)
const MAX_PENDING = 1000; // events kept while the collector refuses; the oldest go first
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60000;
const OUTBOX_KEY = "kinoteka.player.outbox";

// crypto.randomUUID exists only in secure contexts; getRandomValues everywhere.
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const playbackId = newId(); // one per page load: resumes after a pause are the same playback

let engine = null; // "hls" | "dash" | "native"
let hls = null;
let dash = null;
let duration = parseFloat(data.duration || "0") || 0;
let lastPosition = startAt;
let fullViewSent = false;
let failed = false;
let rendition = null; // the quality playing ("360p"), null until the first one is known

// --- events -------------------------------------------------------------------------------
// Events wait in an outbox of batches until the collector answers: a 2xx takes a batch, and
// so does a 4xx (the server kept what it refused, and a resend would be refused again);
// a 5xx, 408, 429 or a network failure keeps it and retries later with a growing delay. The
// outbox lives in sessionStorage so a reload (or the next player page in this tab) sends what
// is left. Every event carries its own `event_id`, so a resend is counted once.
function loadOutbox() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(OUTBOX_KEY) || "[]");
    if (!Array.isArray(stored)) return [];
    return stored.filter((batch) => batch && batch.playback_id && Array.isArray(batch.events));
  } catch (error) {
    return [];
  }
}

const outbox = loadOutbox(); // [{playback_id, events}], oldest first
let inFlight = null; // the batch being posted
let failures = 0;
let retryTimer = null;

function saveOutbox() {
  try {
    if (outbox.length) sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
    else sessionStorage.removeItem(OUTBOX_KEY);
  } catch (error) {
    // Storage full or disabled: the events stay in memory for this page.
  }
}

function pendingCount() {
  return outbox.reduce((total, batch) => total + batch.events.length, 0);
}

function emit(type, fields = {}) {
  let batch = outbox[outbox.length - 1];
  if (!batch || batch === inFlight || batch.playback_id !== playbackId
      || batch.events.length >= BATCH_EVENTS) {
    batch = { playback_id: playbackId, events: [] };
    outbox.push(batch);
  }
  batch.events.push({
    event_id: newId(), type, film_id: filmId, position: Math.max(0, video.currentTime || 0),
    at: new Date().toISOString(), ...fields,
  });
  // Over the bound, the oldest batches go (not the one on its way, nor this one).
  let excess = pendingCount() - MAX_PENDING;
  for (let i = 0; excess > 0 && i < outbox.length - 1;) {
    if (outbox[i] === inFlight) i += 1;
    else excess -= outbox.splice(i, 1)[0].events.length;
  }
  if (batch.events.length >= BATCH_EVENTS) flush();
}

function formOf(batch) {
  // A form, so the site's CSRF guard finds its token as it does in every other form.
  const form = new FormData();
  form.append("csrftoken", data.csrf);
  form.append("batch", JSON.stringify({ schema_version: SCHEMA_VERSION, ...batch }));
  return form;
}

function retryLater(retryAfter) {
  failures += 1;
  const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
  const delay = Math.max(backoff * (0.5 + Math.random() / 2), (retryAfter || 0) * 1000);
  retryTimer = setTimeout(() => { retryTimer = null; flush(); }, Math.min(delay, RETRY_MAX_MS));
}

// Post the outbox's batches one at a time, oldest first, until it is empty or one fails.
async function flush() {
  saveOutbox();
  if (inFlight || retryTimer || !outbox.length) return;
  const batch = outbox[0];
  inFlight = batch;
  let retry = true;
  let retryAfter = 0;
  try {
    const response = await fetch(data.events, {
      method: "POST", body: formOf(batch), keepalive: true, credentials: "same-origin",
    });
    retry = response.status >= 500 || response.status === 408 || response.status === 429;
    retryAfter = parseFloat(response.headers.get("Retry-After") || "0") || 0;
  } catch (error) {
    // Offline, or the request never got an answer: keep the batch.
  }
  inFlight = null;
  if (retry) {
    retryLater(retryAfter);
  } else {
    failures = 0;
    const index = outbox.indexOf(batch);
    if (index >= 0) outbox.splice(index, 1);
  }
  saveOutbox();
  if (!retry) flush();
}

window.addEventListener("online", () => {
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  flush();
});

function progress() {
  emit("progress", { duration: duration || null });
}

setInterval(() => {
  if (!video.paused && !video.ended) {
    progress();
    flush();
  }
}, HEARTBEAT_MS);

// Hidden (another tab, the phone locked): post as usual, the page may still hear the answer.
// Leaving: the page will not hear it, so what is not already on its way goes by beacon as a
// last resort and stays in the outbox, which the next player page in this tab resends.
function leave(unloading) {
  if (video.currentTime > 0) progress();
  if (!unloading) {
    flush();
    return;
  }
  saveOutbox();
  for (const batch of outbox) {
    if (batch !== inFlight) navigator.sendBeacon(data.events, formOf(batch));
  }
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") leave(false);
});
window.addEventListener("pagehide", () => leave(true));

// --- failure --------------------------------------------------------------------------------
function fail(detail) {
  if (failed) return;
  failed = true;
  errorBox.textContent = data.msgFailed;
  errorBox.hidden = false;
  root.classList.add("failed");
  emit("error", { message: String(detail).slice(0, 500), fatal: true });
  flush();
}

// --- quality menu ---------------------------------------------------------------------------
function setRenditions(list) {
  // list: [{index, height, bitrate}], best first
  quality.replaceChildren(new Option(data.msgAuto, "-1"));
  for (const rung of list) {
    const label = rung.height ? `${rung.height}p` : `${Math.round(rung.bitrate / 1000)} kbit/s`;
    quality.append(new Option(label, String(rung.index)));
  }
  quality.disabled = list.length < 2;
}

// The first rendition is where playback starts, not a switch: it is only noted.
function renditionChanged(height, bitrate, auto) {
  const name = height ? `${height}p` : `${Math.round((bitrate || 0) / 1000)}k`;
  root.dataset.rendition = height ? String(height) : "";
  if (name === rendition) return;
  const from = rendition;
  rendition = name;
  if (from === null) return;
  emit("quality_change", {
    from_quality: from, to_quality: name, height: height || null, bitrate: bitrate || null, auto,
  });
}

quality.addEventListener("change", () => {
  const index = parseInt(quality.value, 10);
  if (engine === "hls") {
    hls.currentLevel = index; // -1: automatic (ABR)
  } else if (engine === "dash") {
    dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: index < 0 } } } });
    if (index >= 0) dash.setQualityFor("video", index, true);
  }
});

// --- engines --------------------------------------------------------------------------------
function startHls(url) {
  engine = "hls";
  hls = new window.Hls({ startPosition: startAt > 0 ? startAt : -1, capLevelToPlayerSize: false });
  let recovered = false;
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
    const rungs = hls.levels.map((level, index) => ({ index, height: level.height, bitrate: level.bitrate }));
    rungs.sort((a, b) => (b.height - a.height) || (b.bitrate - a.bitrate));
    setRenditions(rungs);
  });
  hls.on(window.Hls.Events.LEVEL_SWITCHED, (_event, { level }) => {
    const chosen = hls.levels[level];
    renditionChanged(chosen && chosen.height, chosen && chosen.bitrate, hls.autoLevelEnabled);
  });
  hls.on(window.Hls.Events.ERROR, (_event, info) => {
    if (!info.fatal) return;
    if (info.type === window.Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
      recovered = true;
      hls.recoverMediaError();
    } else if (data.dash) {
      hls.destroy();
      hls = null;
      startDash(data.dash);
    } else {
      fail(`${info.type}: ${info.details}`);
    }
  });
  hls.loadSource(url);
  hls.attachMedia(video);
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function startDash(url) {
  engine = "dash";
  try {
    if (!window.dashjs) await loadScript("/static/vendor/dash/dash.all.min.js");
  } catch (error) {
    fail(error.message);
    return;
  }
  dash = window.dashjs.MediaPlayer().create();
  dash.initialize(video, url, false, startAt > 0 ? startAt : undefined);
  dash.on(window.dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
    const list = dash.getBitrateInfoListFor("video")
      .map((info) => ({ index: info.qualityIndex, height: info.height, bitrate: info.bitrate }));
    list.sort((a, b) => (b.height - a.height) || (b.bitrate - a.bitrate));
    setRenditions(list);
  });
  dash.on(window.dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, (event) => {
    if (event.mediaType !== "video") return;
    const info = dash.getBitrateInfoListFor("video")[event.newQuality];
    const auto = dash.getSettings().streaming.abr.autoSwitchBitrate.video;
    renditionChanged(info && info.height, info && info.bitrate, auto);
  });
  dash.on(window.dashjs.MediaPlayer.events.ERROR, (event) => {
    fail(`dash: ${event.error && (event.error.message || event.error.code)}`);
  });
}

function startNative(url) {
  engine = "native";
  video.src = url;
  video.addEventListener("loadedmetadata", () => {
    if (startAt > 0) video.currentTime = startAt;
  }, { once: true });
}

function start() {
  const hlsUrl = data.hls;
  const dashUrl = data.dash;
  const mse = window.Hls && window.Hls.isSupported();
  // `?engine=dash` takes the second path on purpose (to try it, and for the tests).
  const preferred = new URLSearchParams(window.location.search).get("engine");
  if (preferred === "dash" && dashUrl) startDash(dashUrl);
  else if (hlsUrl && mse) startHls(hlsUrl);
  else if (hlsUrl && video.canPlayType("application/vnd.apple.mpegurl")) startNative(hlsUrl);
  else if (dashUrl) startDash(dashUrl);
  else fail("no playable stream");
  root.dataset.engine = engine || "";
}

video.addEventListener("error", () => {
  if (engine === "native") fail(video.error ? video.error.message || `code ${video.error.code}` : "error");
});

// --- controls -------------------------------------------------------------------------------
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function togglePlay() {
  if (video.paused || video.ended) {
    const attempt = video.play();
    if (attempt) attempt.catch((error) => { if (error.name !== "AbortError") fail(error.message); });
  } else {
    video.pause();
  }
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else root.requestFullscreen().catch(() => {});
}

function toggleMute() {
  video.muted = !video.muted;
}

function jump(delta) {
  const end = duration || video.duration || 0;
  video.currentTime = Math.min(Math.max(0, video.currentTime + delta), end || Infinity);
}

playButton.addEventListener("click", togglePlay);
video.addEventListener("click", togglePlay);
muteButton.addEventListener("click", toggleMute);
root.querySelector(".fullscreen").addEventListener("click", toggleFullscreen);

video.addEventListener("play", () => {
  delete root.dataset.state;
  playButton.textContent = "❚❚";
  playButton.setAttribute("aria-label", playButton.dataset.pause);
  emit("play");
});
// The end of the film (its pause, just before, saved the position there): the player shows
// it, and Play starts the film again.
video.addEventListener("ended", () => {
  root.dataset.state = "ended";
  playButton.textContent = "↻";
});
video.addEventListener("pause", () => {
  playButton.textContent = "▶";
  playButton.setAttribute("aria-label", playButton.dataset.play);
  // The video reaching its end pauses it too; that is no viewer's pause.
  if (!video.ended) emit("pause");
  progress();
  flush();
});
video.addEventListener("volumechange", () => {
  muteButton.classList.toggle("muted", video.muted || video.volume === 0);
  muteButton.setAttribute("aria-label", video.muted ? muteButton.dataset.unmute : muteButton.dataset.mute);
});
video.addEventListener("durationchange", () => {
  if (Number.isFinite(video.duration) && video.duration > 0) {
    duration = video.duration;
    seek.max = String(duration);
    root.querySelector(".total").textContent = clock(duration);
  }
});
let dragging = false;
video.addEventListener("timeupdate", () => {
  root.querySelector(".current").textContent = clock(video.currentTime);
  if (!dragging) seek.value = String(video.currentTime);
  if (!video.seeking) lastPosition = video.currentTime;
  if (!fullViewSent && duration > 0 && video.currentTime >= 0.9 * duration) {
    fullViewSent = true;
    emit("full_view", { duration });
    flush();
  }
});
video.addEventListener("seeking", () => {
  emit("seek", { from_position: Math.max(0, lastPosition) });
});
video.addEventListener("seeked", () => { lastPosition = video.currentTime; });

seek.addEventListener("input", () => {
  dragging = true;
  showThumbnail(parseFloat(seek.value));
});
seek.addEventListener("change", () => {
  dragging = false;
  video.currentTime = parseFloat(seek.value);
  hideThumbnail();
});

// Keys: anywhere on the page but in form fields (the seek bar keeps its own arrows).
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const field = target instanceof HTMLElement && target.closest("input, select, textarea");
  const onButton = target instanceof HTMLElement && target.closest("button, a");
  switch (event.key) {
    case " ":
    case "k":
      if (field || (onButton && event.key === " ")) return;
      event.preventDefault();
      togglePlay();
      break;
    case "ArrowLeft":
    case "ArrowRight":
      if (field) return;
      event.preventDefault();
      jump(event.key === "ArrowLeft" ? -5 : 5);
      break;
    case "ArrowUp":
    case "ArrowDown":
      if (field) return;
      event.preventDefault();
      video.volume = Math.min(1, Math.max(0, video.volume + (event.key === "ArrowUp" ? 0.1 : -0.1)));
      break;
    case "f":
      if (field) return;
      toggleFullscreen();
      break;
    case "m":
      if (field) return;
      toggleMute();
      break;
    default:
  }
});

// --- seek thumbnails (WebVTT whose cues name `sprite.jpg#xywh=x,y,w,h`) ----------------------
let cues = [];

function parseTimestamp(text) {
  const parts = text.trim().split(":").map(parseFloat);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

async function loadThumbnails(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const text = await response.text();
    const base = new URL(url, window.location.href);
    for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
      const lines = block.split("\n");
      const timing = lines.findIndex((line) => line.includes("-->"));
      if (timing < 0 || !lines[timing + 1]) continue;
      const [from, to] = lines[timing].split("-->").map((part) => parseTimestamp(part.split(" ").filter(Boolean)[0]));
      const [file, fragment] = lines[timing + 1].trim().split("#xywh=");
      if (!fragment) continue;
      const [x, y, w, h] = fragment.split(",").map(Number);
      cues.push({ from, to, src: new URL(file, base).href, x, y, w, h });
    }
    root.dataset.thumbnails = String(cues.length);
  } catch (error) {
    cues = [];
  }
}

function showThumbnail(time) {
  const cue = cues.find((c) => time >= c.from && time < c.to) || cues[cues.length - 1];
  thumbTime.textContent = clock(time);
  if (cue) {
    thumbImage.style.backgroundImage = `url("${cue.src}")`;
    thumbImage.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    thumbImage.style.width = `${cue.w}px`;
    thumbImage.style.height = `${cue.h}px`;
  }
  const end = duration || parseFloat(seek.max) || 1;
  const ratio = Math.min(1, Math.max(0, time / end));
  thumb.style.left = `${ratio * 100}%`;
  thumb.hidden = false;
}

function hideThumbnail() {
  thumb.hidden = true;
}

seek.addEventListener("pointermove", (event) => {
  const box = seek.getBoundingClientRect();
  const ratio = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  showThumbnail(ratio * (duration || parseFloat(seek.max) || 0));
});
seek.addEventListener("pointerleave", () => { if (!dragging) hideThumbnail(); });
seek.addEventListener("blur", hideThumbnail);

if (data.thumbnails) loadThumbnails(data.thumbnails);
if (duration) root.querySelector(".total").textContent = clock(duration);
seek.value = String(startAt);
root.querySelector(".current").textContent = clock(startAt);

// hls.min.js is a deferred classic script; module scripts run after it.
start();
flush(); // what an earlier page in this tab could not deliver
