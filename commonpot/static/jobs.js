// The documents page's progress bar: asks the server how far the job got, once a second,
// and reloads the page when it is done or failed. The job's state lives in the database,
// so any app process answers. Without JavaScript the page refreshes itself instead
// (a <noscript> meta refresh), and a link reloads it by hand.
(function () {
  "use strict";
  var panel = document.getElementById("job");
  if (!panel) return;
  var url = panel.getAttribute("data-job-url");
  var bar = panel.querySelector("progress");
  var text = panel.querySelector(".job-text");
  if (!url || !bar) return;

  function show(job) {
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
      bar.textContent = job.percent + "%";
      if (text) text.textContent = job.done + " of " + job.total + " documents rendered";
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.status === "done" || job.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000); // a hiccup: try again a little later
      });
  }

  window.setTimeout(poll, 500);
})();
