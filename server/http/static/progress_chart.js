// Her progress over her classes as an SVG chart, for the phone page (her
// own, with her profile credential) and the instructor's console (anyone's
// in the studio). Never loaded by the TV page.
//
// Built with DOM APIs only (the CSP allows no inline markup or style): one
// bar per class for total reps, a line for mean effort (CR-10, 0 to 10, on
// its own scale), and the chart's words in <title>/<desc> for screen
// readers; below it one row per exercise and side with her reps in each
// class. Every server string goes in as text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  return el;
}

function classDate(c) {
  const ms = Number(c.startedUnixMs || 0);
  return ms ? new Date(ms).toLocaleDateString(undefined, {day: 'numeric', month: 'short'}) : '';
}

/**
 * Draws `classesIn` (Progress.classes) into `chart` and `rows` (a <ul>).
 * `prefix` names the SVG's ids (`${prefix}-svg`, -title, -desc), unique per
 * page. Returns the number of classes drawn.
 */
export function drawProgress(chart, rows, classesIn, prefix) {
  const classes = (Array.isArray(classesIn) ? classesIn : []).slice()
      .sort((a, b) => Number(a.startedUnixMs || 0) - Number(b.startedUnixMs || 0));
  chart.dataset.classCount = String(classes.length);
  if (!classes.length) {
    chart.replaceChildren();
    rows.replaceChildren();
    return 0;
  }
  const summary = classes.map((c, i) => {
    const feels = [['too easy', c.tooEasyCount], ['just right', c.justRightCount], ['too hard', c.tooHardCount]]
        .filter(([, n]) => Number(n || 0) > 0).map(([what, n]) => `${what} ${n}`);
    const effort = [c.meanCr10 === undefined ? '' : `effort ${Number(c.meanCr10).toFixed(1)} of 10`, ...feels]
        .filter(Boolean).join(', ') || 'no effort rated';
    const date = classDate(c);
    return `Class ${i + 1}${date ? ` (${date})` : ''}, ${c.circuitName || 'class'}: ${c.totalReps || 0} reps, ${effort}`;
  });

  const width = 320;
  const height = 160;
  const left = 34;
  const right = 26;
  const top = 10;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxReps = Math.max(10, ...classes.map((c) => Number(c.totalReps || 0)));
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${prefix}-title ${prefix}-desc`,
    class: 'progress-svg', id: `${prefix}-svg`,
  });
  const title = svg('title', {id: `${prefix}-title`});
  title.textContent = 'Total reps and effort per class';
  const desc = svg('desc', {id: `${prefix}-desc`});
  desc.textContent = summary.join('. ') + '.';
  root.append(title, desc);
  root.append(svg('line', {x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: 'axis'}));
  const label = (x, y, text, anchor, cls) => {
    const t = svg('text', {x, y, 'text-anchor': anchor, class: cls, 'aria-hidden': 'true'});
    t.textContent = text;
    root.append(t);
  };
  label(left - 4, top + 8, String(maxReps), 'end', 'axis-label');
  label(left - 4, top + plotH, '0', 'end', 'axis-label');
  label(left + plotW + 4, top + 8, '10', 'start', 'axis-label effort');
  const step = plotW / classes.length;
  const barW = Math.max(4, Math.min(36, step * 0.6));
  const points = [];
  classes.forEach((c, i) => {
    const cx = left + step * (i + 0.5);
    const reps = Number(c.totalReps || 0);
    const h = (reps / maxReps) * plotH;
    const bar = svg('rect', {x: cx - barW / 2, y: top + plotH - h, width: barW, height: Math.max(h, 0.5), class: 'bar'});
    bar.dataset.classId = c.classId || '';
    bar.dataset.reps = String(reps);
    const tip = svg('title');
    tip.textContent = summary[i];
    bar.append(tip);
    root.append(bar);
    label(cx, height - 8, String(i + 1), 'middle', 'axis-label');
    if (c.meanCr10 !== undefined) points.push([cx, top + plotH - (Number(c.meanCr10) / 10) * plotH]);
  });
  if (points.length > 1) {
    root.append(svg('polyline', {points: points.map((p) => p.join(',')).join(' '), class: 'effort-line'}));
  }
  for (const [x, y] of points) root.append(svg('circle', {cx: x, cy: y, r: 3.5, class: 'effort-dot'}));
  chart.replaceChildren(root);

  // One row per exercise and side: her reps in each class, oldest first.
  const byRow = new Map();
  classes.forEach((c, i) => {
    for (const e of c.exercises || []) {
      for (const [side, reps] of [['left', e.leftReps], ['right', e.rightReps], ['', e.bothReps]]) {
        if (!Number(reps || 0)) continue;
        const key = `${e.exerciseName || e.exerciseId || 'Exercise'}${side ? ` · ${side}` : ''}`;
        if (!byRow.has(key)) byRow.set(key, new Array(classes.length).fill(null));
        byRow.get(key)[i] = Number(reps);
      }
    }
  });
  rows.replaceChildren(...Array.from(byRow.entries(), ([key, reps]) => {
    const li = document.createElement('li');
    li.dataset.row = key;
    const name = document.createElement('span');
    name.className = 'row-name';
    name.textContent = key;
    const values = document.createElement('span');
    values.className = 'row-values';
    values.textContent = reps.map((r) => (r === null ? '–' : String(r))).join(' → ') + ' reps';
    li.append(name, values);
    return li;
  }));
  return classes.length;
}
