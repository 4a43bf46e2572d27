// The mask on the client: one byte a pixel, row-major, at the image's own size.
// It arrives and leaves as row runs (counts alternate 0-runs and 1-runs,
// starting with 0s), which is what the server sends after every click.

export function decodeRuns(counts, length) {
  const mask = new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < counts.length; i++) {
    if (i & 1) mask.fill(1, at, at + counts[i]);
    at += counts[i];
  }
  return mask;
}

export function encodeRuns(mask) {
  const counts = [];
  let value = 0;
  let run = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== value) {
      counts.push(run);
      run = 0;
      value = mask[i];
    }
    run++;
  }
  counts.push(run);
  return counts;
}

export function area(mask) {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

// Stamps a disk of radius r at every step along a segment, so a fast stroke
// leaves no gaps. Returns the touched rectangle for a partial redraw.
export function paintSegment(mask, width, height, x0, y0, x1, y1, r, value) {
  const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / Math.max(1, r / 2)));
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    stampDisk(mask, width, height, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, r, value);
  }
  return {
    x0: Math.max(0, Math.floor(Math.min(x0, x1) - r - 1)),
    y0: Math.max(0, Math.floor(Math.min(y0, y1) - r - 1)),
    x1: Math.min(width, Math.ceil(Math.max(x0, x1) + r + 2)),
    y1: Math.min(height, Math.ceil(Math.max(y0, y1) + r + 2)),
  };
}

function stampDisk(mask, width, height, cx, cy, r, value) {
  const r2 = r * r;
  const top = Math.max(0, Math.floor(cy - r));
  const bottom = Math.min(height - 1, Math.ceil(cy + r));
  for (let y = top; y <= bottom; y++) {
    const dy = y + 0.5 - cy;
    const half = r2 - dy * dy;
    if (half < 0) continue;
    const span = Math.sqrt(half);
    const left = Math.max(0, Math.ceil(cx - span - 0.5));
    const right = Math.min(width - 1, Math.floor(cx + span - 0.5));
    if (right >= left) mask.fill(value, y * width + left, y * width + right + 1);
  }
}

// Colours the mask into an offscreen canvas: the fill at the chosen opacity and
// its outline fully opaque, so a faint fill still shows exactly where the edge is.
export class Overlay {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.width = 0;
    this.height = 0;
    this.image = null;
    this.pixels = null;
  }

  resize(width, height) {
    this.width = this.canvas.width = width;
    this.height = this.canvas.height = height;
    this.image = this.ctx.createImageData(width, height);
    this.pixels = new Uint32Array(this.image.data.buffer);
  }

  draw(mask, opacity, rect) {
    const { width: w, height: h, pixels } = this;
    if (!pixels || !mask) return;
    const r = rect || { x0: 0, y0: 0, x1: w, y1: h };
    // Little-endian ABGR: red 255, green 59, blue 107.
    const rgb = (107 << 16) | (59 << 8) | 255;
    const fill = ((Math.round(opacity * 255) << 24) | rgb) >>> 0;
    const edge = ((255 << 24) | rgb) >>> 0;
    for (let y = r.y0; y < r.y1; y++) {
      const row = y * w;
      for (let x = r.x0; x < r.x1; x++) {
        const i = row + x;
        if (!mask[i]) {
          pixels[i] = 0;
        } else {
          const inside = x > 0 && x < w - 1 && y > 0 && y < h - 1 &&
            mask[i - 1] && mask[i + 1] && mask[i - w] && mask[i + w];
          pixels[i] = inside ? fill : edge;
        }
      }
    }
    this.ctx.putImageData(this.image, 0, 0, r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
  }
}
