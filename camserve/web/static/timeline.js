// The camera page's timeline: the recorded stretches of time, from minutes
// to weeks across (the wheel or the buttons zoom, a sideways wheel pans),
// and the playback of the recording in the page's picture. A click or drag
// on the timeline plays from that time (a gap plays from the next recorded
// frame); pause, step, speed and LIVE control the playback's session; LIVE
// goes back to the live stream. An admin of a camera recorded on demand
// starts and stops its recording; a span marked on the timeline exports.
// What moved (activity and motion events) is drawn by activity.js.
"use strict";

(() => {
  const section = document.getElementById("timeline");
  if (!section) return;
  const { PartReader, live, activityLayer } = window.camserve;
  const api = section.dataset.api;
  const canvas = document.getElementById("timeline-canvas");
  const img = document.getElementById("stream");
  const badge = document.getElementById("mode-badge");
  const shownTime = document.getElementById("shown-time");
  const spanLabel = document.getElementById("span-label");
  const play = document.getElementById("play");
  const stepBack = document.getElementById("step-back");
  const stepForward = document.getElementById("step-forward");
  const speed = document.getElementById("speed");
  const liveButton = document.getElementById("live");
  const record = document.getElementById("record");
  const exportLink = document.getElementById("export");
  const MIN_SPAN = 60;
  const MAX_SPAN = 120 * 86400;
  const REFRESH_MS = 5000;
  const STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400];

  let span = 3600; // seconds across the timeline
  let end = null; // the time at its right edge; null follows now
  let ranges = [];
  let session = null; // the playback's session while one plays
  let controller = null;
  let shown = null; // the capture time of the recorded frame shown
  let paused = false;
  let dragTime = null;
  let marks = [null, null];
  let frameUrl = null;
  const moved = activityLayer(canvas, api, timeAt, () => draw());

  const now = () => Date.now() / 1000;
  const right = () => (end === null ? now() + span * 0.02 : end);
  const left = () => right() - span;

  function timeAt(x) {
    const box = canvas.getBoundingClientRect();
    return left() + ((x - box.left) / box.width) * span;
  }

  function label(when, step) {
    const date = new Date(when * 1000);
    if (step >= 86400) return date.toLocaleDateString([], { month: "short", day: "numeric" });
    const options = { hour: "2-digit", minute: "2-digit" };
    if (step < 60) options.second = "2-digit";
    return date.toLocaleTimeString([], options);
  }

  function describeSpan() {
    if (span < 3600) return `${Math.round(span / 60)} min across`;
    if (span < 2 * 86400) return `${Math.round(span / 3600)} h across`;
    return `${Math.round(span / 86400)} days across`;
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const from = left();
    const x = (when) => ((when - from) / span) * width;
    context.fillStyle = "#1c1f24";
    context.fillRect(0, 0, width, height);
    if (marks[0] !== null && marks[1] !== null) {
      context.fillStyle = "rgba(138, 180, 248, 0.25)";
      const [first, last] = [Math.min(...marks), Math.max(...marks)];
      context.fillRect(x(first), 0, Math.max(2, x(last) - x(first)), height);
    }
    context.fillStyle = "#34a853";
    for (const range of ranges) {
      context.fillRect(x(range.start), height * 0.45, Math.max(2, x(range.end) - x(range.start)), height * 0.3);
    }
    moved.draw(context, x, height);
    const step = STEPS.find((each) => (each / span) * width >= 80) || STEPS.at(-1);
    const offset = new Date().getTimezoneOffset() * 60;
    context.fillStyle = "#9aa0a6";
    context.strokeStyle = "#5f6368";
    context.font = "11px system-ui, sans-serif";
    context.beginPath();
    for (let tick = Math.ceil((from - offset) / step) * step + offset; tick < from + span; tick += step) {
      context.moveTo(Math.round(x(tick)) + 0.5, 0);
      context.lineTo(Math.round(x(tick)) + 0.5, height * 0.4);
      if (x(tick) < width - 70) context.fillText(label(tick, step), x(tick) + 3, 12);
    }
    context.stroke();
    const head = dragTime ?? (session ? shown : now());
    if (head !== null) {
      context.fillStyle = session ? "#8ab4f8" : "#ea4335";
      context.fillRect(x(head) - 1, 0, 2, height);
    }
    spanLabel.textContent = describeSpan();
  }

  let asking = null;
  async function refresh() {
    const from = left() - span;
    const to = right() + span;
    const mine = new AbortController();
    asking?.abort();
    asking = mine;
    moved.refresh(left(), right(), canvas.clientWidth, from, to);
    try {
      const response = await fetch(`${api}recordings?start=${from}&end=${to}`, { cache: "no-store", signal: mine.signal });
      if (response.ok) ranges = await response.json();
    } catch (error) {
      return;
    }
    draw();
  }

  function showState() {
    const playing = session !== null;
    badge.textContent = !playing ? "LIVE" : paused ? "PAUSED" : "PLAYBACK";
    if (playing) delete badge.dataset.live;
    else badge.dataset.live = "";
    section.dataset.playing = String(playing);
    // The playback's controls show while a recording plays, in place of
    // the live picture's Pause (see camera.js).
    for (const button of [play, stepBack, stepForward, liveButton]) button.hidden = !playing;
    play.disabled = !playing;
    liveButton.disabled = !playing;
    stepBack.disabled = !playing || !paused;
    stepForward.disabled = !playing || !paused;
    play.textContent = paused ? "Play" : "Pause";
    play.setAttribute("aria-pressed", String(paused));
    shownTime.textContent = playing && shown !== null ? new Date(shown * 1000).toLocaleString() : "";
    draw();
  }

  function showFrame(jpeg, stamp) {
    const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    const old = frameUrl;
    frameUrl = url;
    img.src = url;
    if (old) URL.revokeObjectURL(old);
    shown = stamp;
    img.dataset.timestamp = String(stamp);
    showState();
  }

  // Play the recording from `when` in the picture, on a stream of its own.
  async function start(when) {
    controller?.abort();
    live.leave();
    const mine = new AbortController();
    controller = mine;
    paused = false;
    session = "";
    shown = when;
    showState();
    try {
      const response = await fetch(`playback?start=${when}&speed=${speed.value}`, { cache: "no-store", signal: mine.signal });
      if (!response.ok || !response.body) throw new Error(await response.text());
      session = response.headers.get("x-playback-session");
      const parts = new PartReader((headers, jpeg) => {
        if (controller === mine) showFrame(jpeg, parseFloat(headers["x-timestamp"]));
      });
      const reader = response.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
      }
    } catch (error) {
      // Aborted by the page, or refused: either way the stream is over.
    }
    if (controller === mine) backToLive();
  }

  function backToLive() {
    controller?.abort();
    controller = null;
    session = null;
    paused = false;
    delete img.dataset.timestamp;
    live.back();
    showState();
  }

  async function control(asked) {
    if (!session) return;
    const response = await fetch(`playback/${encodeURIComponent(session)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(asked),
    });
    const answer = await response.json();
    if (response.status === 404 && answer.error === "no such playback") {
      backToLive();
      return;
    }
    if (response.ok) {
      paused = answer.paused;
      showState();
    }
  }

  function seek(when) {
    if (session) control({ action: "seek", time: when });
    else start(when);
  }

  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    dragTime = timeAt(event.clientX);
    draw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (dragTime === null) return;
    dragTime = timeAt(event.clientX);
    draw();
  });
  canvas.addEventListener("pointerup", () => {
    if (dragTime === null) return;
    const when = Math.min(dragTime, now());
    dragTime = null;
    seek(when);
  });
  canvas.addEventListener("pointercancel", () => {
    dragTime = null;
    draw();
  });

  function zoom(factor, around) {
    const wanted = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span * factor));
    // A timeline that follows now goes on following it: it zooms about
    // its right edge; another zooms about `around`.
    if (end !== null) {
      end = around + (end - around) * (wanted / span);
      if (end >= now()) end = null;
    }
    span = wanted;
    draw();
    refresh();
  }

  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
      end = right() + (event.deltaX / canvas.clientWidth) * span;
      if (end >= now()) end = null;
      draw();
      refresh();
    } else {
      zoom(event.deltaY > 0 ? 1.25 : 0.8, timeAt(event.clientX));
    }
  }, { passive: false });

  const middle = () => (session && shown !== null ? shown : right() - span / 2);
  document.getElementById("zoom-in").addEventListener("click", () => zoom(0.5, middle()));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(2, middle()));

  play.addEventListener("click", () => control({ action: paused ? "resume" : "pause" }));
  stepBack.addEventListener("click", () => control({ action: "step", frames: -1 }));
  stepForward.addEventListener("click", () => control({ action: "step", frames: 1 }));
  speed.addEventListener("change", () => control({ action: "speed", speed: Number(speed.value) }));
  liveButton.addEventListener("click", backToLive);

  function mark(which) {
    marks[which] = session && shown !== null ? shown : now();
    if (marks[0] !== null && marks[1] !== null) {
      const [first, last] = [Math.min(...marks), Math.max(...marks)];
      // X-Timestamp rounds the capture times to the microsecond: half a
      // millisecond more each way takes in the frames marked, and no other.
      exportLink.href = `${api}export?start=${first - 0.0005}&end=${last + 0.0005}`;
      exportLink.hidden = false;
    }
    draw();
  }
  document.getElementById("mark-start").addEventListener("click", () => mark(0));
  document.getElementById("mark-end").addEventListener("click", () => mark(1));

  function showRecording(state) {
    if (!record) return;
    const on = state === "recording";
    record.setAttribute("aria-pressed", String(on));
    record.textContent = on ? "Stop recording" : "Record";
  }
  if (record) {
    showRecording(section.dataset.recording);
    record.addEventListener("click", async () => {
      const on = record.getAttribute("aria-pressed") === "true";
      record.disabled = true;
      try {
        const response = await fetch(`${api}recording`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action: on ? "stop" : "start" }),
        });
        const answer = await response.json();
        if (response.ok) showRecording(answer.state);
      } finally {
        record.disabled = false;
        refresh();
      }
    });
  }

  window.addEventListener("resize", draw);
  setInterval(refresh, REFRESH_MS);
  setInterval(draw, 1000);
  showState();
  refresh();
})();
