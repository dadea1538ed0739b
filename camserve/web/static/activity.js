// What moved, drawn on the camera page's timeline (see timeline.js): the
// activity of the recording (each bucket's peak, from the API's activity)
// as amber bars rising from the bottom of the recorded stretches, taller
// where more of the picture changed, and the motion events (from the API's
// events) as a red band along the bottom, from each event's start to its
// end (to now for the one going on). Hovering an event says when it was
// and its peak.
"use strict";

(() => {
  const AMBER = "#fbbc04";
  const RED = "#ea4335";
  const MOST_BUCKETS = 2000;

  function clock(when) {
    return new Date(when * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // The layer of `canvas`, whose camera's API is at `api`; `timeAt` gives
  // the time at a client x, `redraw` draws the whole timeline again.
  function activityLayer(canvas, api, timeAt, redraw) {
    let activity = null; // the API's {start, step, peaks}
    let events = [];
    let asking = null;
    const legend = canvas.title;

    // Ask for the activity from `from` to `to` in a bucket a CSS pixel of
    // `width`, and the events from `eventsFrom` to `eventsTo`.
    async function refresh(from, to, width, eventsFrom, eventsTo) {
      const mine = new AbortController();
      asking?.abort();
      asking = mine;
      const buckets = Math.max(1, Math.min(MOST_BUCKETS, Math.round(width)));
      const ask = async (path) => {
        const response = await fetch(`${api}${path}`, { cache: "no-store", signal: mine.signal });
        return response.ok ? response.json() : null;
      };
      try {
        const [peaks, found] = await Promise.all([
          ask(`activity?start=${from}&end=${to}&buckets=${buckets}`),
          ask(`events?start=${eventsFrom}&end=${eventsTo}`),
        ]);
        if (peaks) activity = peaks;
        if (found) events = found;
      } catch (error) {
        return; // asked again since, or the server is away: keep what is drawn
      }
      redraw();
    }

    // Draw on `context` (CSS pixels), `x` placing a time, `height` tall.
    function draw(context, x, height) {
      if (activity) {
        // The recorded stretch is drawn from 45% to 75% of the height.
        const bottom = height * 0.75;
        const tallest = height * 0.3;
        const { start, step, peaks } = activity;
        context.fillStyle = AMBER;
        peaks.forEach((peak, place) => {
          if (!peak) return; // nothing scored, or a still picture
          // Whole pixels, so that bars side by side leave no seams; a
          // bucket shorter than a second holds a second's score, which
          // lasts the second.
          const left = Math.floor(x(start + place * step));
          const right = Math.ceil(x(start + place * step + Math.max(step, 1)));
          // A square root, so that a small movement (a few % of the
          // picture) still shows.
          const bar = Math.max(1, Math.sqrt(peak) * tallest);
          context.fillRect(left, bottom - bar, Math.max(1, right - left), bar);
        });
      }
      const now = Date.now() / 1000;
      context.fillStyle = RED;
      for (const event of events) {
        const left = x(event.start);
        context.fillRect(left, height * 0.82, Math.max(2, x(event.end ?? now) - left), height * 0.14);
      }
    }

    canvas.addEventListener("pointermove", (event) => {
      const when = timeAt(event.clientX);
      const near = timeAt(event.clientX + 3) - when; // a few pixels, in seconds
      const now = Date.now() / 1000;
      const hit = events.find((each) => each.start - near <= when && when <= (each.end ?? now) + near);
      canvas.title = hit
        ? `motion ${clock(hit.start)} to ${hit.end === null ? "now" : clock(hit.end)}, peak ${Math.round(hit.peak * 100)}%`
        : legend;
    });

    return { refresh, draw };
  }

  window.camserve = Object.assign(window.camserve || {}, { activityLayer });
})();
