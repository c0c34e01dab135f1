// Sends a deep linking response back to the learning platform at once (the form stays
// on the page, with its button, for a browser without script).
document.querySelectorAll("form[data-auto-submit]").forEach((form) => form.submit());
// After a dynamic registration, tells the platform's window that opened us we are done
// (LTI Dynamic Registration § 3.7).
if (document.querySelector("[data-lti-close]")) {
  (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
}
