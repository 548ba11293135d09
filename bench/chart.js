// The bench as a picture (SVG, no dependencies): start-up times as bars against node -e 0 with the
// targets marked, and agent throughput beside the echo server.
'use strict';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

function renderChart(r) {
  const W = 900;
  const rows = [
    ...Object.entries(r.startup.results),
    ...(r.keyring.results ? Object.entries(r.keyring.results).filter(([n]) => n !== 'node -e 0') : []),
    ['glassdome unlock (default KDF)', r.unlock['glassdome unlock']],
  ];
  const base = r.startup.results['node -e 0'].median_ms;
  const maxMs = Math.max(...rows.map(([, m]) => m.median_ms)) * 1.1;
  const barX = 280;
  const barW = W - barX - 120;
  const rowH = 26;
  const top = 60;
  const x = (ms) => barX + (ms / maxMs) * barW;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="__H__" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n`;
  svg += `<text x="20" y="28" font-size="17" font-weight="bold">glassdome bench — ${esc(r.machine.node)}, ${r.machine.cpus} cpus, ${esc(r.at.slice(0, 10))}</text>\n`;
  svg += `<text x="20" y="48" fill="#555">Whole-process median wall time (interleaved rounds); ratio to node -e 0. Dashed: 1.30x and 1.5x of node -e 0.</text>\n`;
  const bottom = top + rows.length * rowH;
  // Target lines first, so bars and labels are drawn over them; their labels go under the bars.
  for (const [k, label, anchor, dx] of [
    [1.3, '1.30x', 'end', -3],
    [1.5, '1.5x', 'start', 3],
  ]) {
    if (base * k >= maxMs) continue;
    svg += `<line x1="${x(base * k)}" y1="${top}" x2="${x(base * k)}" y2="${bottom + 4}" stroke="#c0392b" stroke-opacity="0.6" stroke-dasharray="4 3"/>\n`;
    svg += `<text x="${x(base * k) + dx}" y="${bottom + 16}" text-anchor="${anchor}" fill="#c0392b" font-size="11">${label}</text>\n`;
  }
  rows.forEach(([name, m], i) => {
    const y = top + i * rowH;
    const floor = name === 'node -e 0';
    const colour = floor ? '#9aa5b1' : name.startsWith('glassdome') ? '#2f6fb3' : '#c98a2b';
    svg += `<text x="${barX - 10}" y="${y + 17}" text-anchor="end">${esc(name)}</text>\n`;
    svg += `<rect x="${barX}" y="${y + 4}" width="${Math.max(1, x(m.median_ms) - barX)}" height="${rowH - 8}" fill="${colour}"/>\n`;
    svg += `<rect x="${x(m.median_ms) + 3}" y="${y + 5}" width="${(String(m.median_ms).length + String(m.ratio).length + 7) * 7.2}" height="${rowH - 10}" fill="white"/>`;
    svg += `<text x="${x(m.median_ms) + 6}" y="${y + 17}">${m.median_ms} ms · ${m.ratio}x</text>\n`;
  });
  // Throughput panel.
  const t0 = bottom + 56;
  svg += `<text x="20" y="${t0}" font-size="15" font-weight="bold">Agent get throughput beside a bare Node NDJSON echo server (requests/s; p99 in ms)</text>\n`;
  const maxRps = Math.max(...r.load.flatMap((l) => [l.echo.per_second, l.agent.per_second, l.floor?.per_second ?? 0])) * 1.1;
  const tx = (v) => barX + (v / maxRps) * barW;
  let y = t0 + 16;
  const bar = (label, m, colour, note) => {
    svg += `<text x="${barX - 10}" y="${y + 17}" text-anchor="end">${esc(label)}</text>\n`;
    svg += `<rect x="${barX}" y="${y + 4}" width="${tx(m.per_second) - barX}" height="${rowH - 8}" fill="${colour}"/><text x="${tx(m.per_second) + 6}" y="${y + 17}">${m.per_second}/s · p99 ${m.p99_ms}${note}</text>\n`;
    y += rowH;
  };
  for (const l of r.load) {
    bar(`${l.connections} connection${l.connections > 1 ? 's' : ''}: echo`, l.echo, '#9aa5b1', '');
    if (l.floor) bar('connection layer, no-op get', l.floor, '#b9c7d6', ` · ${l.floor_vs_echo}x echo`);
    bar('agent', l.agent, '#2f6fb3', ` · ${l.agent_vs_echo}x echo`);
  }
  const end = y + 30;
  svg += `<text x="20" y="${end}" fill="#555">Agent RSS: ${r.memory.idle_unlocked_mib} MiB idle unlocked, ${r.big.agent_rss_mib} MiB with 10,000 secrets. Unlock with 10,000 secrets: ${r.big.unlock.median_ms} ms; list: ${r.big.list.median_ms} ms.</text>\n`;
  svg += '</svg>\n';
  return svg.replace('__H__', String(end + 20));
}

module.exports = { renderChart };
