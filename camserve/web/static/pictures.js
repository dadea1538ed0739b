// A picture on a canvas that changes only once the next one is decoded.
// Setting an <img>'s source to the next frame lets the browser show nothing
// until that frame is decoded, and at a high pixel ratio it often does: a
// wall of such images flickers black. Here each JPEG is decoded into a
// bitmap first, in a worker (static/decoder.js) so that the page's own
// thread stays free, and only the decoded picture replaces the one on
// screen. While one frame decodes, only the newest to arrive waits: a slow
// page skips frames, never falls behind.
"use strict";

(() => {
  // The width and height a JPEG's frame header gives, or null.
  function jpegSize(bytes) {
    let at = 2;
    while (at + 9 < bytes.length) {
      if (bytes[at] !== 0xff) return null;
      const marker = bytes[at + 1];
      if (marker === 0xff) {
        at += 1;
      } else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        at += 2;
      } else if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return {
          height: (bytes[at + 5] << 8) | bytes[at + 6],
          width: (bytes[at + 7] << 8) | bytes[at + 8],
        };
      } else {
        at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
      }
    }
    return null;
  }

  // The decoder, shared by every picture of the page; where a worker cannot
  // be had, the page decodes on its own thread.
  let decoder = null;
  try {
    decoder = new Worker("static/decoder.js");
  } catch (error) {
    decoder = null;
  }
  const decoding = new Map();
  let decoded = 0;
  if (decoder) {
    decoder.onmessage = (event) => {
      const { id, bitmap } = event.data;
      const { resolve, reject } = decoding.get(id);
      decoding.delete(id);
      if (bitmap) resolve(bitmap);
      else reject(new Error("not a picture"));
    };
  }

  function decode(blob) {
    if (!decoder) return createImageBitmap(blob);
    return new Promise((resolve, reject) => {
      const id = decoded++;
      decoding.set(id, { resolve, reject });
      decoder.postMessage({ id, blob });
    });
  }

  class Picture {
    // onShown(size, stamp) follows each picture put on screen.
    constructor(canvas, onShown) {
      this.canvas = canvas;
      this.onShown = onShown;
      this.waiting = null;
      this.busy = false;
      this.context = null;
    }

    show(jpeg, stamp) {
      this.waiting = { jpeg, stamp };
      if (!this.busy) this.showWaiting();
    }

    async showWaiting() {
      this.busy = true;
      while (this.waiting) {
        const { jpeg, stamp } = this.waiting;
        this.waiting = null;
        try {
          this.paint(await decode(new Blob([jpeg], { type: "image/jpeg" })));
        } catch (error) {
          continue; // A frame that does not decode: the last one stays.
        }
        this.onShown(jpegSize(jpeg), stamp);
      }
      this.busy = false;
    }

    paint(bitmap) {
      if (this.context === null) {
        this.context = this.canvas.getContext("bitmaprenderer") || this.canvas.getContext("2d");
      }
      // The canvas takes the picture's size (which it shows scaled to the
      // tile) in the same task as the picture, so that no paint comes
      // between.
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      if (this.context.transferFromImageBitmap) {
        this.context.transferFromImageBitmap(bitmap);
      } else {
        this.context.drawImage(bitmap, 0, 0);
        bitmap.close();
      }
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { Picture, jpegSize });
})();
