// The drawing pad: white strokes on a black 280x280 canvas, with Undo and Clear of its own. The canvas is never
// remounted, so no stroke is lost; after each stroke it sends one small PNG (or null when empty) to Python, whose
// reading comes back in data.reading and is shown on the pad itself, where the eyes are (on a phone the full
// answer is below the pad, out of sight).
export default function ({ parentElement, data, setStateValue, setTriggerValue }) {
  const root = parentElement;
  const pad = root.__pad || (root.__pad = { strokes: [], current: null });
  const canvas = root.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  pad.width = data.width;

  const dot = ([x, y], width) => {
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(x, y, width / 2, 0, 2 * Math.PI);
    ctx.fill();
  };
  const line = (points, width) => {
    ctx.strokeStyle = "#fff";
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(...points[0]);
    for (const p of points.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
  };
  const paint = () => {  // everything again: after Undo, Clear or a re-render
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const s of pad.strokes.concat(pad.current ? [pad.current] : [])) {
      s.points.length === 1 ? dot(s.points[0], s.width) : line(s.points, s.width);
    }
    root.querySelector(".undo").disabled = root.querySelector(".clear").disabled = pad.strokes.length === 0;
  };
  const badge = root.querySelector(".badge");
  const saving = root.querySelector(".save");
  const show = (reading) => {
    badge.hidden = !reading;
    saving.hidden = !(reading && data.saving);
    if (reading) {
      badge.textContent = reading.short;
      badge.classList.toggle("unsure", !reading.sure);
      saving.querySelectorAll("button").forEach((b) => b.classList.toggle("guess", +b.dataset.digit === reading.guess));
    }
  };
  const send = () => setStateValue("image", pad.strokes.length ? canvas.toDataURL("image/png") : null);
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
  };

  canvas.onpointerdown = (e) => {
    canvas.setPointerCapture(e.pointerId);
    pad.current = { width: pad.width, points: [at(e)] };
    dot(pad.current.points[0], pad.width);
  };
  canvas.onpointermove = (e) => {  // only the new piece of the stroke is drawn
    if (!pad.current) return;
    const points = pad.current.points;
    points.push(at(e));
    line(points.slice(-2), pad.current.width);
  };
  canvas.onpointerup = canvas.onpointercancel = () => {
    if (!pad.current) return;
    pad.strokes.push(pad.current);
    pad.current = null;
    paint();
    send();
  };
  root.querySelector(".undo").onclick = () => { pad.strokes.pop(); paint(); send(); };
  const clear = () => { pad.strokes = []; show(null); paint(); send(); };
  root.querySelector(".clear").onclick = clear;
  // Save to My digits: the drawing goes with its label, and the pad is ready for the next one.
  pad.save = (label) => {
    if (!data.saving || !pad.strokes.length) return;
    setTriggerValue("save", { label, image: canvas.toDataURL("image/png") });
    clear();
  };
  saving.querySelectorAll("button").forEach((b) => { b.onclick = () => pad.save(+b.dataset.digit); });
  if (!root.__keys) {  // once per pad: a digit key saves, unless the person is typing somewhere
    root.__keys = true;
    document.addEventListener("keydown", (e) => {
      const typing = e.target.closest && e.target.closest("input, textarea, select, [contenteditable]");
      if (/^[0-9]$/.test(e.key) && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && root.isConnected) {
        pad.save(+e.key);
      }
    });
  }
  show(pad.strokes.length ? data.reading : null);
  paint();
  canvas.dataset.ready = "true";  // strokes count from here: tests (and load benchmarks) wait for it
}
