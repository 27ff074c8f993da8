"""The tabs of the evaluation screen that compute on demand: worst drawings, clusters, CAM, hidden layers, quality."""
