"""Studies: grids of ordinary runs under a study run; specs, runner, results, fits, named studies."""
