// Where the wall's tiles go: a box for each, in order, each at its camera's
// own aspect ratio.
//
// "auto" shows every camera as large as the window allows: rows of tiles of
// one height, the largest at which they all fit, each row centred. Where that
// would make pictures too small to read (a phone with many cameras), the
// wall scrolls instead: rows of tiles of the least readable size, each row
// then widened to fill the window. "1", "2", "3" and "4" cut the window into
// that many rows and columns, one tile in each cell, and scroll past that.
"use strict";

(() => {
  // The least area a picture should have, as a 16:9 picture this wide.
  const LEAST_WIDTH = 280;

  // Rows of tiles all `height` tall, each row as many tiles as fit in
  // `width`: for each row, the indexes of its tiles.
  function flow(aspects, height, width, gap) {
    const rows = [];
    let used = Infinity;
    aspects.forEach((aspect, index) => {
      const tile = height * aspect;
      if (used + gap + tile > width) {
        rows.push([]);
        used = -gap;
      }
      rows.at(-1).push(index);
      used += gap + tile;
    });
    return rows;
  }

  // Boxes for `rows` of tiles, each row `heights[row]` tall and centred in
  // `width`, stacked `top` down.
  function place(aspects, rows, heights, width, gap, top) {
    const boxes = [];
    let y = top;
    rows.forEach((row, number) => {
      const height = heights[number];
      const widths = row.map((index) => Math.floor(height * aspects[index]));
      const used = widths.reduce((sum, one) => sum + one, 0) + gap * (row.length - 1);
      let x = Math.max(0, Math.floor((width - used) / 2));
      row.forEach((index, at) => {
        boxes[index] = { left: x, top: Math.floor(y), width: widths[at], height: Math.floor(height) };
        x += widths[at] + gap;
      });
      y += height + gap;
    });
    return { boxes, height: Math.ceil(y - gap) };
  }

  function fits(aspects, height, width, room, gap) {
    if (aspects.some((aspect) => height * aspect > width)) return false;
    const rows = flow(aspects, height, width, gap).length;
    return rows * height + (rows - 1) * gap <= room;
  }

  function auto(aspects, width, room, gap) {
    // The tallest tiles that fit, to within a pixel.
    let low = 0;
    let high = room;
    while (high - low > 0.5) {
      const middle = (low + high) / 2;
      if (fits(aspects, middle, width, room, gap)) low = middle;
      else high = middle;
    }
    const least = Math.min((LEAST_WIDTH * LEAST_WIDTH * 9) / 16, (width * room) / 2);
    const smallest = Math.min(...aspects);
    if (low * low * smallest >= least) {
      const rows = flow(aspects, low, width, gap);
      const used = rows.length * low + (rows.length - 1) * gap;
      return place(aspects, rows, rows.map(() => low), width, gap, Math.floor((room - used) / 2));
    }
    // Too many to show readably: the least readable size, each row widened
    // to fill the window, but none taller than the window, and the last
    // (often short) row no taller than the others.
    const height = Math.min(Math.sqrt(least / smallest), width / Math.max(...aspects));
    const rows = flow(aspects, height, width, gap);
    const heights = rows.map((row) => {
      const aspect = row.reduce((sum, index) => sum + aspects[index], 0);
      return Math.min(room, (width - gap * (row.length - 1)) / aspect);
    });
    if (rows.length > 1) heights[rows.length - 1] = Math.min(heights.at(-1), Math.max(...heights.slice(0, -1)));
    return place(aspects, rows, heights, width, gap, 0);
  }

  function cells(aspects, side, width, room, gap) {
    const cellWidth = (width - gap * (side - 1)) / side;
    const cellHeight = (room - gap * (side - 1)) / side;
    const boxes = aspects.map((aspect, index) => {
      const tileWidth = Math.floor(Math.min(cellWidth, cellHeight * aspect));
      const tileHeight = Math.floor(tileWidth / aspect);
      const column = index % side;
      const row = Math.floor(index / side);
      return {
        left: Math.floor(column * (cellWidth + gap) + (cellWidth - tileWidth) / 2),
        top: Math.floor(row * (cellHeight + gap) + (cellHeight - tileHeight) / 2),
        width: tileWidth,
        height: tileHeight,
      };
    });
    const rows = Math.ceil(aspects.length / side);
    return { boxes, height: Math.ceil(rows * (cellHeight + gap) - gap) };
  }

  // aspects: each tile's width over height, in order; width and room: the
  // wall's width and the height it may take without scrolling; choice:
  // "auto", "1", "2", "3" or "4"; gap: the room between two tiles. The
  // tiles' boxes in the wall, and the wall's height.
  function layout(aspects, width, room, choice, gap) {
    if (!aspects.length) return { boxes: [], height: 0 };
    if (choice === "auto") return auto(aspects, width, room, gap);
    return cells(aspects, Number(choice), width, room, gap);
  }

  window.camserve = Object.assign(window.camserve || {}, { layout });
})();
