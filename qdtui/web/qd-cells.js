// qdtui serve: make every terminal cell 10x20 CSS pixels, the cell size the app draws its sixel
// images for (it cannot ask the browser, whose answers would arrive in Textual's input stream).
// A font whose cells are taller than 20 pixels (Roboto Mono at 16 px) is made smaller first: xterm.js
// refuses a line height below 1.
window.qdCells = function (term) {
  const core = term._core;
  if (!core || !core._renderService) return;
  for (let i = 0; i < 16; i++) {
    const cell = core._renderService.dimensions.css.cell;
    if (cell.width === 10 && cell.height === 20) return;
    const lineHeight = term.options.lineHeight || 1;
    if (cell.height / lineHeight > 20 && term.options.fontSize > 6) {
      term.options.lineHeight = 1;
      term.options.fontSize = term.options.fontSize - 1;
      continue;
    }
    term.options.letterSpacing = (term.options.letterSpacing || 0) + (10 - cell.width);
    term.options.lineHeight = Math.max(1, lineHeight * 20 / cell.height);
  }
};
