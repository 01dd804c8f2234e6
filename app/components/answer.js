// The Draw page's answer: the reading, the 28x28 image the model saw, and the ten probabilities as bars. Plain DOM,
// updated in place on every stroke (a Plotly chart here cost the browser ~0.2 s of CPU per stroke).
export default function ({ parentElement, data, setTriggerValue }) {
  const root = parentElement;
  const drawn = data.seen !== null;
  root.querySelector(".hint").hidden = drawn;
  root.querySelector(".reading").hidden = !drawn;
  const answer = root.querySelector(".answer");
  answer.classList.toggle("unsure", drawn && !data.sure);
  if (drawn) {
    root.querySelector(".headline").textContent = data.headline;
    root.querySelector(".detail").textContent = data.detail;
    answer.setAttribute("aria-label", `Prediction ${data.headline} ${data.detail}`);
  }
  const canvas = root.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = drawn ? data.seen[i] : 0;
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  root.querySelectorAll(".row").forEach((row, k) => {
    const p = data.probs[k];
    row.querySelector(".bar").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".pct").textContent = drawn ? `${(100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%` : "";
    row.classList.toggle("top", drawn && k === data.digit);
    row.classList.toggle("picked", drawn && k === data.picked);
    row.classList.toggle("pickable", data.pickable);
    row.onclick = data.pickable ? () => setTriggerValue("picked", k) : null;  // "why this digit?": Python explains it
  });
}
