// Autosave on every change and every 20 s; the timer counts down to the server's deadline;
// submitting asks for confirmation.
(function () {
  var form = document.getElementById('quiz');
  var status = document.getElementById('sauvegarde');
  function save() {
    fetch(form.dataset.save, { method: 'POST', credentials: 'same-origin',
      body: new URLSearchParams(new FormData(form)) })
      .then(function (r) { status.textContent = r.ok ? 'Réponses enregistrées.' : 'Enregistrement impossible.'; });
  }
  form.addEventListener('change', save);
  setInterval(save, 20000);
  form.addEventListener('submit', function (e) {
    if (!window.confirm('Rendre vos réponses ? Vous ne pourrez plus les modifier.')) e.preventDefault();
  });
  var timer = document.querySelector('[data-deadline]');
  if (timer) {
    var end = Date.parse(timer.dataset.deadline), out = document.getElementById('restant');
    setInterval(function () {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      out.textContent = Math.floor(left / 60) + ' min ' + ('0' + left % 60).slice(-2) + ' s';
      if (left === 0) { save(); form.submit(); }
    }, 1000);
  }
})();
