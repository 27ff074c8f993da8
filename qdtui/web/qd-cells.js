// qdtui serve: make every terminal cell 10x20 CSS pixels, the cell size the app draws its sixel
// images for (it cannot ask the browser, whose answers would arrive in Textual's input stream).
window.qdCells = function (term) {
  const core = term._core;
  if (!core || !core._renderService) return;
  for (let i = 0; i < 4; i++) {
    const cell = core._renderService.dimensions.css.cell;
    if (cell.width === 10 && cell.height === 20) return;
    term.options.letterSpacing = (term.options.letterSpacing || 0) + (10 - cell.width);
    term.options.lineHeight = (term.options.lineHeight || 1) * 20 / cell.height;
  }
};
