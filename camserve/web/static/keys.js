// The wall's keyboard, and its tiles' full screen: the arrows move from tile
// to tile as they lie on screen (and, full screen, show the next tile), Enter
// opens the tile's camera, F shows the tile full screen, Escape leaves full
// screen. A tile is reached by its name's link.
"use strict";

(() => {
  const shownTiles = () => [...document.querySelectorAll(".tile:not([hidden])")];
  const linkOf = (tile) => tile.querySelector(".name");

  // The tile shown full screen, or the one that has the focus.
  function currentTile() {
    const element = document.fullscreenElement || document.activeElement;
    return element && element.closest ? element.closest(".tile") : null;
  }

  // The arrows show one tile full screen after another, each on top of the
  // last: leaving takes them all away, and the keyboard goes on from the
  // tile that was shown.
  async function leaveFullscreen() {
    const shown = currentTile();
    while (document.fullscreenElement) await document.exitFullscreen();
    if (shown) linkOf(shown).focus();
  }

  function toggleFullscreen(tile) {
    if (document.fullscreenElement) leaveFullscreen();
    else tile.requestFullscreen?.();
  }

  // The tile next to `from` in the direction of the arrow: left and right
  // within its row, up and down the nearest row.
  function neighbour(from, key) {
    const box = from.getBoundingClientRect();
    const middle = (rect) => [rect.left + rect.width / 2, rect.top + rect.height / 2];
    const [x, y] = middle(box);
    let best = null;
    let bestDistance = Infinity;
    for (const tile of shownTiles()) {
      if (tile === from) continue;
      const other = tile.getBoundingClientRect();
      const [otherX, otherY] = middle(other);
      const sameRow = other.top < box.bottom && other.bottom > box.top;
      const beside = { ArrowLeft: otherX < x, ArrowRight: otherX > x }[key];
      const apart = { ArrowUp: other.bottom <= box.top, ArrowDown: other.top >= box.bottom }[key];
      if (beside === undefined ? !apart : !(beside && sameRow)) continue;
      const distance =
        beside === undefined ? 4 * Math.abs(otherY - y) + Math.abs(otherX - x) : Math.abs(otherX - x);
      if (distance < bestDistance) {
        best = tile;
        bestDistance = distance;
      }
    }
    return best;
  }

  // Full screen, the tiles come one after another, in order.
  function following(from, key) {
    const some = shownTiles();
    const step = key === "ArrowLeft" || key === "ArrowUp" ? -1 : 1;
    return some[(some.indexOf(from) + step + some.length) % some.length];
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.("select, input, textarea")) return;
    const tile = currentTile();
    if (event.key.startsWith("Arrow")) {
      let next = shownTiles()[0];
      if (tile) next = document.fullscreenElement ? following(tile, event.key) : neighbour(tile, event.key);
      if (!next) return;
      event.preventDefault();
      if (document.fullscreenElement) next.requestFullscreen?.();
      linkOf(next).focus();
      next.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" && tile && !event.target.closest("button, a")) {
      location.href = linkOf(tile).href;
    } else if ((event.key === "f" || event.key === "F") && tile) {
      event.preventDefault();
      toggleFullscreen(tile);
    } else if (event.key === "Escape" && document.fullscreenElement) {
      leaveFullscreen();
    }
  });

  window.camserve = Object.assign(window.camserve || {}, { toggleFullscreen });
})();
