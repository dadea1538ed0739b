// A timeline's scale on a canvas, shared by the camera page's timeline and
// the wall's: the time along it (from a minute to 120 days across; the wheel
// zooms, a sideways wheel pans, a timeline that follows now goes on
// following it), its ticks and their labels, recorded stretches of time
// (one row each for several cameras), a head at the time shown, and a
// click or drag that seeks (the line follows, the seek happens on release).
"use strict";

(() => {
  const MIN_SPAN = 60;
  const MAX_SPAN = 120 * 86400;
  const STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400];

  const now = () => Date.now() / 1000;

  function label(when, step) {
    const date = new Date(when * 1000);
    if (step >= 86400) return date.toLocaleDateString([], { month: "short", day: "numeric" });
    const options = { hour: "2-digit", minute: "2-digit" };
    if (step < 60) options.second = "2-digit";
    return date.toLocaleTimeString([], options);
  }

  class TimeScale {
    // canvas: where it is drawn. head() is the time shown (null for none)
    // and headColor() its colour; onSeek(when) is called with the time
    // clicked or dragged to (never after now); onChange() after a zoom or
    // a pan, to fetch what the new span shows; decorate(context, x, width,
    // height) draws more on it (x(when) is where a time is).
    constructor(canvas, { head, headColor, onSeek, onChange, decorate }) {
      this.canvas = canvas;
      this.head = head;
      this.headColor = headColor;
      this.onSeek = onSeek;
      this.onChange = onChange;
      this.decorate = decorate || (() => {});
      this.span = 3600; // seconds across
      this.end = null; // the time at its right edge; null follows now
      this.rows = []; // each row's recorded stretches: [{start, end}, ...]
      this.marks = [null, null];
      this.dragTime = null;
      this.listen();
    }

    right() {
      return this.end === null ? now() + this.span * 0.02 : this.end;
    }

    left() {
      return this.right() - this.span;
    }

    timeAt(x) {
      const box = this.canvas.getBoundingClientRect();
      return this.left() + ((x - box.left) / box.width) * this.span;
    }

    describe() {
      const span = this.span;
      if (span < 3600) return `${Math.round(span / 60)} min across`;
      if (span < 2 * 86400) return `${Math.round(span / 3600)} h across`;
      return `${Math.round(span / 86400)} days across`;
    }

    draw() {
      const canvas = this.canvas;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
      if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
      const context = canvas.getContext("2d");
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      const from = this.left();
      const span = this.span;
      const x = (when) => ((when - from) / span) * width;
      context.fillStyle = "#1c1f24";
      context.fillRect(0, 0, width, height);
      const marks = this.marks;
      if (marks[0] !== null && marks[1] !== null) {
        context.fillStyle = "rgba(138, 180, 248, 0.25)";
        const [first, last] = [Math.min(...marks), Math.max(...marks)];
        context.fillRect(x(first), 0, Math.max(2, x(last) - x(first)), height);
      }
      // The rows share the band a single row takes, stacked.
      context.fillStyle = "#34a853";
      const rows = this.rows;
      const band = (height * 0.3) / Math.max(1, rows.length);
      rows.forEach((ranges, index) => {
        const top = height * 0.45 + index * band;
        const thick = rows.length > 1 ? Math.max(1, band - 1) : band;
        for (const range of ranges) {
          context.fillRect(x(range.start), top, Math.max(2, x(range.end) - x(range.start)), thick);
        }
      });
      this.decorate(context, x, width, height);
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
      const head = this.dragTime ?? this.head();
      if (head !== null) {
        context.fillStyle = this.headColor();
        context.fillRect(x(head) - 1, 0, 2, height);
      }
    }

    // Zoom by `factor` about the time `around` (about now, for a timeline
    // that follows now).
    zoom(factor, around) {
      const wanted = Math.min(MAX_SPAN, Math.max(MIN_SPAN, this.span * factor));
      if (this.end !== null) {
        this.end = around + (this.end - around) * (wanted / this.span);
        if (this.end >= now()) this.end = null;
      }
      this.span = wanted;
      this.draw();
      this.onChange();
    }

    listen() {
      const canvas = this.canvas;
      canvas.addEventListener("pointerdown", (event) => {
        canvas.setPointerCapture(event.pointerId);
        this.dragTime = this.timeAt(event.clientX);
        this.draw();
      });
      canvas.addEventListener("pointermove", (event) => {
        if (this.dragTime === null) return;
        this.dragTime = this.timeAt(event.clientX);
        this.draw();
      });
      canvas.addEventListener("pointerup", () => {
        if (this.dragTime === null) return;
        const when = Math.min(this.dragTime, now());
        this.dragTime = null;
        this.onSeek(when);
      });
      canvas.addEventListener("pointercancel", () => {
        this.dragTime = null;
        this.draw();
      });
      canvas.addEventListener("wheel", (event) => {
        event.preventDefault();
        if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
          this.end = this.right() + (event.deltaX / canvas.clientWidth) * this.span;
          if (this.end >= now()) this.end = null;
          this.draw();
          this.onChange();
        } else {
          this.zoom(event.deltaY > 0 ? 1.25 : 0.8, this.timeAt(event.clientX));
        }
      }, { passive: false });
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { TimeScale });
})();
