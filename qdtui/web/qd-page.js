// qdtui serve: the terminal takes the keyboard as soon as the session is connected (keys work and the
// app's footer shows without a first click), and a closed session says why (idle, server stopped).
window.qdOpened = function (session) {
  session.terminal.focus();
  session.onFocus();
};
window.qdClosed = function (event) {
  const message = document.querySelector(".closed-dialog .message");
  if (message && event && event.reason) message.textContent = "Session ended: " + event.reason;
};
