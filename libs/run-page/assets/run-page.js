// The run page in the browser: polls the JSON endpoints every POLL_MS and draws them with uPlot (served from the
// uplot npm package as a static file: no build step). What is shown is computed in run-page-view.js.
/* global uPlot */
import {
  POLL_MS,
  configRows,
  fdData,
  fdNote,
  lossData,
  lossNote,
  sampleCaption,
  statusLine,
  workerRows,
} from './run-page-view.js';

const $ = (id) => document.getElementById(id);
const charts = new Map();
const figures = new Map();

const LOSS_SERIES = [
  { label: 'loss', stroke: 'rgba(64, 110, 190, 0.35)', width: 1 },
  { label: 'smoothed', stroke: '#c0392b', width: 2 },
];
const FD_SERIES = [
  { label: 'Fréchet distance', stroke: '#6c3fb5', width: 2, points: { show: true } },
  { label: 'real-vs-real floor', stroke: '#7f8c8d', width: 1, dash: [6, 4] },
];

/** Draws `data` in the chart inside element `id`; log y once there is data (a log axis needs values). */
function draw(id, series, data, yLabel) {
  const element = $(id);
  const log = data[0].length > 0;
  const width = Math.max(320, element.clientWidth);
  const existing = charts.get(id);
  if (existing !== undefined && existing.log === log) {
    existing.plot.setData(data);
    return;
  }
  existing?.plot.destroy();
  const options = {
    width,
    height: 260,
    // Without data, fixed ranges so the empty chart still shows its axes.
    scales: log
      ? { x: { time: false }, y: { distr: 3 } }
      : { x: { time: false, auto: false, range: [0, 1] }, y: { auto: false, range: [0, 1] } },
    series: [{ label: 'step' }, ...series],
    axes: [{ label: 'step' }, { label: yLabel, size: 70 }],
  };
  charts.set(id, { log, plot: new uPlot(options, data, element) });
}

function fillTable(tbody, rows) {
  tbody.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const cell of cells) tr.appendChild(document.createElement('td')).textContent = cell;
      return tr;
    }),
  );
}

function showSamples(listing) {
  $('samples-count').textContent =
    listing.total === 0
      ? '(none yet: a grid is written every --sample-every steps and at the end)'
      : `(newest first; ${listing.names.length} of ${listing.total})`;
  const shown = listing.names.map((name) => {
    let figure = figures.get(name);
    if (figure === undefined) {
      figure = document.createElement('figure');
      const img = figure.appendChild(document.createElement('img'));
      img.src = `samples/${encodeURIComponent(name)}`;
      img.alt = `sample grid ${name}`;
      figure.appendChild(document.createElement('figcaption')).textContent = sampleCaption(name);
      figures.set(name, figure);
    }
    return figure;
  });
  $('samples').replaceChildren(...shown);
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function poll() {
  try {
    const [loss, evals, samples, state] = await Promise.all(
      ['api/loss', 'api/eval', 'api/samples', 'api/state'].map(getJson),
    );
    draw('loss-chart', LOSS_SERIES, lossData(loss), 'loss');
    $('loss-note').textContent = lossNote(loss);
    draw('fd-chart', FD_SERIES, fdData(evals), 'FD');
    $('fd-note').textContent = fdNote(evals);
    showSamples(samples);
    fillTable($('workers').tBodies[0], workerRows(state));
    fillTable($('config').tBodies[0], configRows(state.live?.config ?? {}));
    $('status').textContent = `${statusLine(state, loss)} · updated ${new Date().toLocaleTimeString()}`;
    $('status').classList.remove('stale');
    document.body.dataset.lossPoints = String(loss.step.length);
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  } catch (error) {
    $('status').textContent = `cannot reach the run (${error.message}); retrying every ${POLL_MS / 1000} s`;
    $('status').classList.add('stale');
  }
}

window.addEventListener('resize', () => {
  for (const [id, { plot }] of charts) plot.setSize({ width: Math.max(320, $(id).clientWidth), height: 260 });
});

async function loop() {
  await poll();
  setTimeout(loop, POLL_MS);
}
loop();
