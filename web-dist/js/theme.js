// Applied before the page renders so a dark-theme user never sees a white flash.
(function () {
  try {
    var t = localStorage.getItem('lightnvr.theme');
    if (t === 'dark' || t === 'light') document.documentElement.setAttribute('data-theme', t);
  } catch (e) { /* storage disabled: follow the system */ }
})();
