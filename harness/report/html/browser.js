// Episode browser: the body of function (data, el); data = {episodes: [...], multi: bool}.
var eps = data.episodes;
var byId = {};
eps.forEach(function (e) { byId[e.id] = e; });
var tbody = el.querySelector('.episode-list tbody');
var selects = {};
el.querySelectorAll('select[data-filter]').forEach(function (s) { selects[s.dataset.filter] = s; });
if (!data.multi) el.querySelector('.run-filter').style.display = 'none';

function condition(e) {
  return e.perturbation && e.perturbation !== 'none' ? e.perturbation + ' L' + e.perturbation_level : 'clean';
}
function outcome(e) {
  var out = [e.success ? 'success' : 'failure'];
  if (e.collided) out.push('collided');
  if (e.n_interventions > 0) out.push('intervened');
  out.push('end: ' + e.termination_reason);
  return out;
}
function method(e) { return (data.multi ? e.run + ' · ' : '') + e.intervention; }
function fill(name, values) {
  var s = selects[name];
  s.innerHTML = '';
  ['(all)'].concat(values).forEach(function (v) {
    var o = document.createElement('option');
    o.value = v; o.textContent = v; s.appendChild(o);
  });
  s.addEventListener('change', render);
}
function uniq(f) {
  var seen = {}, out = [];
  eps.forEach(function (e) { [].concat(f(e)).forEach(function (v) { if (!seen[v]) { seen[v] = 1; out.push(v); } }); });
  return out;
}
fill('run', uniq(function (e) { return e.run; }));
fill('task', uniq(function (e) { return e.task; }));
fill('intervention', uniq(function (e) { return e.intervention; }));
fill('outcome', uniq(outcome).sort());
fill('condition', uniq(condition));
if (uniq(condition).length < 2) el.querySelector('.condition-filter').style.display = 'none';

function visible() {
  return eps.filter(function (e) {
    var f = function (n) { return selects[n].value; };
    return (f('run') === '(all)' || e.run === f('run')) &&
      (f('task') === '(all)' || e.task === f('task')) &&
      (f('intervention') === '(all)' || e.intervention === f('intervention')) &&
      (f('condition') === '(all)' || condition(e) === f('condition')) &&
      (f('outcome') === '(all)' || outcome(e).indexOf(f('outcome')) >= 0);
  });
}
function cell(tr, text, cls) {
  var td = document.createElement('td');
  td.textContent = text; if (cls) td.className = cls; tr.appendChild(td);
}
var current = null;
function render() {
  var shown = visible();
  tbody.innerHTML = '';
  shown.forEach(function (e) {
    var tr = document.createElement('tr');
    tr.dataset.id = e.id;
    tr.className = (e.success ? 'ok' : 'fail') + (e.id === current ? ' selected' : '');
    cell(tr, method(e)); cell(tr, e.task_index); cell(tr, e.init_state, 'num'); cell(tr, e.seed, 'num');
    cell(tr, e.termination_reason); cell(tr, e.steps, 'num'); cell(tr, e.n_collision_onsets, 'num');
    cell(tr, e.n_interventions, 'num');
    cell(tr, e.peak_risk === null ? '-' : e.peak_risk.toFixed(3), 'num');
    tr.title = e.task;
    tr.addEventListener('click', function () { select(e.id); });
    tbody.appendChild(tr);
  });
  el.querySelector('.count').textContent = shown.length + ' of ' + eps.length + ' episodes';
  if (shown.length && (current === null || !shown.some(function (e) { return e.id === current; }))) {
    select(shown[0].id);
  }
}
function pairKey(e) { return [e.suite, e.task_index, e.init_state, e.seed, e.repeat, condition(e)].join('|'); }

function select(id) {
  var e = byId[id];
  current = id;
  tbody.querySelectorAll('tr').forEach(function (tr) { tr.classList.toggle('selected', tr.dataset.id === id); });
  var detail = el.querySelector('.episode-detail');
  detail.dataset.episode = id;
  detail.querySelector('.episode-title').textContent = e.episode_key;
  detail.querySelector('.episode-info').textContent =
    method(e) + ' · ' + e.task + ' · init state ' + e.init_state + ' · seed ' + e.seed +
    (condition(e) !== 'clean' ? ' · perturbation ' + condition(e) : '') +
    ' · ended: ' + e.termination_reason + ' after ' + e.steps + '/' + e.max_steps + ' steps · ' +
    e.n_collision_onsets + ' collision onset(s)' +
    (e.n_collision_onsets > 0 && e.max_collision_force !== null ? ' (max force ' + e.max_collision_force + ' N)' : '') +
    (e.obstacle_collided !== null && e.obstacle_collided !== undefined
      ? ' · obstacle: ' + (e.obstacle_collided ? 'hit at step ' + e.first_obstacle_step : 'not touched') : '') +
    (e.disturbance_step !== null && e.disturbance_step !== undefined
      ? ' · disturbance at step ' + e.disturbance_step : '') +
    ' · ' +
    e.n_interventions + ' intervention onset(s), ' + e.intervention_steps + ' active step(s)' +
    (e.threshold !== null ? ' · threshold ' + e.threshold.toFixed(3) : '');
  var pairs = detail.querySelector('.episode-pairs');
  pairs.innerHTML = '';
  var partners = eps.filter(function (o) { return o.id !== id && pairKey(o) === pairKey(e); });
  if (partners.length) pairs.appendChild(document.createTextNode('Same start under: '));
  partners.forEach(function (o) {
    var b = document.createElement('button');
    b.textContent = method(o) + (o.success ? ' ✓' : ' ✗') + (o.collided ? ' (collided)' : '');
    b.addEventListener('click', function () { select(o.id); });
    pairs.appendChild(b);
  });
  draw(e);
  var video = detail.querySelector('.episode-video');
  video.innerHTML = '';
  if (e.video) {
    var v = document.createElement('video');
    v.src = e.video; v.controls = true; v.muted = true; v.preload = 'metadata';
    video.appendChild(v);
  }
}

function draw(e) {
  var div = document.getElementById('episode-plot');
  var t = e.trace;
  if (!t) {
    Plotly.purge(div);
    div.innerHTML = '<p class="empty">no steps recorded for this episode</p>';
    div.dataset.empty = '1';
    return;
  }
  if (div.dataset.empty) { div.innerHTML = ''; delete div.dataset.empty; }
  var x = t.risk.map(function (_, i) { return t.step0 + i; });
  var traces = [{ type: 'scatter', mode: 'lines', name: 'risk', x: x, y: t.risk, line: { color: '#1f77b4' } }];
  var shapes = t.active.map(function (s) {
    return { type: 'rect', xref: 'x', yref: 'paper', x0: s[0] - 0.5, x1: s[1] + 0.5, y0: 0, y1: 1,
             fillcolor: 'rgba(255,127,14,0.22)', line: { width: 0 }, layer: 'below' };
  });
  if (e.threshold !== null) {
    traces.push({ type: 'scatter', mode: 'lines', name: 'threshold ' + e.threshold.toFixed(3),
                  x: [x[0], x[x.length - 1]], y: [e.threshold, e.threshold],
                  line: { color: '#555', dash: 'dash', width: 1.5 } });
  }
  if (t.active.length) {
    traces.push({ type: 'scatter', mode: 'markers', name: 'intervention active', x: [null], y: [null],
                  marker: { symbol: 'square', size: 12, color: 'rgba(255,127,14,0.45)' } });
  }
  t.onsets.forEach(function (o) {
    shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: o[0], x1: o[0], y0: 0, y1: 1,
                  line: { color: '#d62728', width: 1.5 } });
  });
  if (t.onsets.length) {
    traces.push({ type: 'scatter', mode: 'markers', name: 'collision onset', yaxis: 'y2',
                  x: t.onsets.map(function (o) { return o[0]; }),
                  y: t.onsets.map(function (o) { return o[2]; }),
                  text: t.onsets.map(function (o) { return o[1] + ' onset(s), force ' + o[2] + ' N'; }),
                  hoverinfo: 'text+x', marker: { color: '#d62728', size: 10, symbol: 'x' } });
  }
  [['first_obstacle_step', 'obstacle contact', '#9467bd', 'dot'],
   ['disturbance_step', 'disturbance', '#2ca02c', 'dash']].forEach(function (m) {
    var at = e[m[0]];
    if (at === null || at === undefined) return;
    shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: at, x1: at, y0: 0, y1: 1,
                  line: { color: m[2], width: 2, dash: m[3] } });
    traces.push({ type: 'scatter', mode: 'lines', name: m[1] + ' (step ' + at + ')', x: [null], y: [null],
                  line: { color: m[2], dash: m[3] } });
  });
  if (t.force.length) {
    traces.push({ type: 'scatter', mode: 'markers', name: 'contact force (N)', yaxis: 'y2',
                  x: t.force.map(function (f) { return f[0]; }), y: t.force.map(function (f) { return f[1]; }),
                  marker: { color: 'rgba(214,39,40,0.35)', size: 5 } });
  }
  var layout = {
    margin: { l: 50, r: 60, t: 30, b: 40 }, font: { family: 'system-ui, sans-serif', size: 12 },
    xaxis: { title: { text: 'step' }, range: [x[0] - 0.5, x[x.length - 1] + 0.5] },
    yaxis: { title: { text: 'risk' }, range: [0, 1.05] },
    yaxis2: { title: { text: 'force (N)' }, overlaying: 'y', side: 'right', showgrid: false, rangemode: 'tozero' },
    legend: { orientation: 'h', y: 1.12 }, shapes: shapes,
    annotations: [{ x: x[x.length - 1], y: 1.0, xref: 'x', yref: 'paper', text: e.termination_reason,
                    showarrow: false, xanchor: 'right', font: { color: e.success ? '#2ca02c' : '#d62728' } }]
  };
  Plotly.react(div, traces, layout, { responsive: true, displaylogo: false });
}

window.mistvlaSelectEpisode = select;
var wanted = (location.hash.match(/ep=([^&]+)/) || [])[1];
render();
if (wanted && byId[decodeURIComponent(wanted)]) select(decodeURIComponent(wanted));
