// Which of the wall's tiles show, and where: the layout choice and the group
// choice, both kept by the browser (localStorage), and the tiles placed for
// the window as static/layout.js says, anew whenever the window, the header
// or a tile's aspect ratio changes.
"use strict";

(() => {
  const { layout } = window.camserve;

  // A browser that keeps nothing (storage refused) still applies a choice.
  function kept(key, fallback) {
    try {
      return localStorage.getItem(key) ?? fallback;
    } catch (error) {
      return fallback;
    }
  }

  function keep(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (error) {
      // Not kept, but applied.
    }
  }

  class Arrangement {
    // tiles: the wall's tiles in order, each with its element, aspect ratio
    // and group (or null); onArranged(): after the tiles are placed.
    constructor(grid, header, tiles, onArranged) {
      this.grid = grid;
      this.tiles = tiles;
      this.onArranged = onArranged;
      this.pending = false;
      this.layoutChoice = document.getElementById("layout");
      this.groupChoice = document.getElementById("group");
      const choices = [...this.layoutChoice.options].map((option) => option.value);
      this.choice = kept("camserve.layout", "auto");
      if (!choices.includes(this.choice)) this.choice = "auto";
      this.layoutChoice.value = this.choice;
      this.layoutChoice.addEventListener("change", () => {
        this.choice = this.layoutChoice.value;
        keep("camserve.layout", this.choice);
        this.arrange();
      });
      this.group = kept("camserve.group", "");
      this.groupChoice.addEventListener("change", () => {
        this.group = this.groupChoice.value;
        keep("camserve.group", this.group);
        this.filter();
      });
      document.getElementById("layout-choice").hidden = false;
      addEventListener("resize", () => this.soon());
      // The header grows when it names more troubles, or wraps on a
      // narrow window, which leaves the wall less room.
      new ResizeObserver(() => this.soon()).observe(header);
    }

    shown() {
      return this.tiles.filter((tile) => !tile.element.hidden);
    }

    // The group choice lists the groups of the cameras there are, in their
    // order, and shows only where there are groups.
    showGroups() {
      const groups = [...new Set(this.tiles.map((tile) => tile.group).filter((name) => name !== null))];
      const options = this.groupChoice.options;
      const known = [...options].slice(1).map((option) => option.value);
      if (groups.join("\n") !== known.join("\n")) {
        this.groupChoice.replaceChildren(options[0]);
        for (const name of groups) this.groupChoice.append(new Option(name, name));
      }
      document.getElementById("group-choice").hidden = groups.length === 0;
      if (!groups.includes(this.group)) this.group = "";
      this.groupChoice.value = this.group;
      this.filter();
    }

    filter() {
      let changed = false;
      for (const tile of this.tiles) {
        const hidden = this.group !== "" && tile.group !== this.group;
        if (tile.element.hidden !== hidden) {
          tile.element.hidden = hidden;
          changed = true;
        }
      }
      if (changed) this.arrange();
    }

    arrange() {
      const gap = parseFloat(getComputedStyle(this.grid).getPropertyValue("--gap")) || 0;
      const top = this.grid.getBoundingClientRect().top + scrollY;
      const room = document.documentElement.clientHeight - top - gap;
      const some = this.shown();
      const aspects = some.map((tile) => tile.aspect);
      const placed = layout(aspects, this.grid.clientWidth, Math.max(room, 100), this.choice, gap);
      this.grid.style.height = `${placed.height}px`;
      some.forEach((tile, index) => {
        const box = placed.boxes[index];
        for (const side of ["left", "top", "width", "height"]) tile.element.style[side] = `${box[side]}px`;
      });
      this.onArranged();
    }

    // Arrange before the next paint, once however often asked.
    soon() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.arrange();
      });
    }
  }

  window.camserve = Object.assign(window.camserve || {}, { Arrangement });
})();
