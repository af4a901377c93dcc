(function () {
  // Sort each kind's table on a header click; filter every table with one row of filters.
  var tables = Array.prototype.slice.call(document.querySelectorAll('table.entries'));
  function key(td, numeric) {
    if (numeric) { var v = parseFloat(td.getAttribute('data-v')); return isNaN(v) ? null : v; }
    var t = td.textContent.trim().toLowerCase(); return t === '' ? null : t;
  }
  tables.forEach(function (table) {
    var tbody = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    function sortBy(i) {
      var th = heads[i], numeric = th.classList.contains('num');
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[i], numeric), y = key(b.cells[i], numeric);
        if (x === null || y === null) { return (x === null) - (y === null); }  // blanks last
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
    }
    heads.forEach(function (th, i) {
      th.addEventListener('click', function () { sortBy(i); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(i); } });
    });
  });
  var filters = Array.prototype.slice.call(document.querySelectorAll('[data-filter]'));
  var text = document.getElementById('f-text');
  var count = document.getElementById('shown');
  function apply() {
    var n = 0, total = 0, q = text.value.trim().toLowerCase();
    tables.forEach(function (table) {
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var ok = filters.every(function (f) { return f.value === '' || row.getAttribute('data-' + f.getAttribute('data-filter')) === f.value; });
        ok = ok && (q === '' || row.textContent.toLowerCase().indexOf(q) >= 0);
        row.hidden = !ok; total += 1; if (ok) { n += 1; shown += 1; }
      });
      table.closest('section').hidden = shown === 0;
    });
    count.textContent = n + ' of ' + total + ' shown';
  }
  filters.forEach(function (f) { f.addEventListener('change', apply); });
  text.addEventListener('input', apply);
  apply();
})();
