// The canvas: image, heat map, mask overlay and click markers under one
// zoom/pan transform. It turns pointer input into image-pixel events and
// leaves what they mean to app.js.

const DRAG_THRESHOLD = 4; // px the pointer may wander and still count as a click
const MIN_SCALE = 0.02;
const MAX_SCALE = 40;

export class Viewer {
  constructor(stage, canvas, handlers) {
    this.stage = stage;
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.handlers = handlers; // {click(x, y, positive), strokeStart(x, y), strokeMove(x, y), strokeEnd(), zoomed(scale)}
    this.image = null;
    this.heat = null;
    this.overlay = null;
    this.clicks = [];
    this.tool = "click";
    this.brushRadius = 8;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.spaceHeld = false;
    this.pointer = null;
    this.hover = null;
    this.frame = 0;
    new ResizeObserver(() => this.resize()).observe(stage);
    this.bindPointer();
  }

  setImage(image, width, height) {
    this.image = image;
    this.width = width;
    this.height = height;
    this.heat = null;
    this.fit();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const { clientWidth: w, clientHeight: h } = this.stage;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    if (this.image && !this.userMoved) this.fit();
    else this.redraw();
  }

  fit() {
    if (!this.width) return;
    const { clientWidth: w, clientHeight: h } = this.stage;
    const pad = 24;
    this.scale = Math.max(MIN_SCALE, Math.min((w - pad) / this.width, (h - pad) / this.height, MAX_SCALE));
    this.x = (w - this.width * this.scale) / 2;
    this.y = (h - this.height * this.scale) / 2;
    this.userMoved = false;
    this.changedZoom();
  }

  zoomBy(factor, cx, cy) {
    if (!this.width) return;
    const { clientWidth: w, clientHeight: h } = this.stage;
    cx ??= w / 2;
    cy ??= h / 2;
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    // Keep the image point under the cursor where it is.
    this.x = cx - ((cx - this.x) * scale) / this.scale;
    this.y = cy - ((cy - this.y) * scale) / this.scale;
    this.scale = scale;
    this.userMoved = true;
    this.changedZoom();
  }

  changedZoom() {
    this.handlers.zoomed?.(this.scale);
    this.redraw();
  }

  toImage(event) {
    const rect = this.canvas.getBoundingClientRect();
    const sx = event.clientX - rect.left;
    const sy = event.clientY - rect.top;
    return { sx, sy, x: (sx - this.x) / this.scale, y: (sy - this.y) / this.scale };
  }

  inside(p) {
    return p.x >= 0 && p.y >= 0 && p.x < this.width && p.y < this.height;
  }

  redraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  paint() {
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.x, dpr * this.y);
    // Sharp pixels when zoomed in: masks are judged against single pixels.
    ctx.imageSmoothingEnabled = this.scale < 4;
    ctx.drawImage(this.image, 0, 0, this.width, this.height);
    if (this.heat) {
      ctx.globalAlpha = 0.55;
      ctx.drawImage(this.heat, 0, 0, this.width, this.height);
      ctx.globalAlpha = 1;
    }
    if (this.overlay) ctx.drawImage(this.overlay.canvas, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const [cx, cy, positive] of this.clicks) this.marker(cx, cy, positive);
    if (this.hover && this.tool !== "click") {
      ctx.beginPath();
      ctx.arc(this.hover.sx, this.hover.sy, Math.max(2, this.brushRadius * this.scale), 0, 2 * Math.PI);
      ctx.strokeStyle = this.tool === "brush" ? "#ff3b6b" : "#ffffff";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }

  marker(ix, iy, positive) {
    const ctx = this.ctx;
    const sx = this.x + (ix + 0.5) * this.scale;
    const sy = this.y + (iy + 0.5) * this.scale;
    ctx.beginPath();
    ctx.arc(sx, sy, 7, 0, 2 * Math.PI);
    ctx.fillStyle = positive ? "#3ecf8e" : "#ff4d4d";
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(sx - 3.5, sy);
    ctx.lineTo(sx + 3.5, sy);
    if (positive) {
      ctx.moveTo(sx, sy - 3.5);
      ctx.lineTo(sx, sy + 3.5);
    }
    ctx.stroke();
  }

  bindPointer() {
    const c = this.canvas;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = this.toImage(e);
      this.zoomBy(Math.pow(1.0015, -e.deltaY), p.sx, p.sy);
    }, { passive: false });
    c.addEventListener("pointerdown", (e) => this.down(e));
    c.addEventListener("pointermove", (e) => this.move(e));
    c.addEventListener("pointerup", (e) => this.up(e));
    c.addEventListener("pointercancel", () => this.cancel());
    c.addEventListener("pointerleave", () => {
      this.hover = null;
      this.redraw();
    });
  }

  down(e) {
    if (!this.image) return;
    this.canvas.setPointerCapture(e.pointerId);
    const p = this.toImage(e);
    const panOnly = e.button === 1 || this.spaceHeld;
    const painting = !panOnly && e.button === 0 && this.tool !== "click";
    this.pointer = { id: e.pointerId, button: e.button, shift: e.shiftKey, start: p, last: p, moved: false, panOnly, painting };
    if (painting) this.handlers.strokeStart(p.x, p.y);
  }

  move(e) {
    const p = this.toImage(e);
    this.hover = p;
    const ptr = this.pointer;
    if (!ptr || ptr.id !== e.pointerId) {
      if (this.tool !== "click") this.redraw();
      return;
    }
    if (ptr.painting) {
      this.handlers.strokeMove(p.x, p.y);
    } else {
      if (!ptr.moved && Math.hypot(p.sx - ptr.start.sx, p.sy - ptr.start.sy) > DRAG_THRESHOLD) {
        ptr.moved = true;
        this.stage.classList.add("panning");
      }
      if (ptr.moved) {
        this.x += p.sx - ptr.last.sx;
        this.y += p.sy - ptr.last.sy;
        this.userMoved = true;
      }
    }
    ptr.last = p;
    this.redraw();
  }

  up(e) {
    const ptr = this.pointer;
    if (!ptr || ptr.id !== e.pointerId) return;
    this.pointer = null;
    this.stage.classList.remove("panning");
    if (ptr.painting) {
      this.handlers.strokeEnd();
      return;
    }
    if (ptr.moved || ptr.panOnly || this.tool !== "click") return;
    const p = ptr.start;
    if (!this.inside(p)) return;
    const positive = ptr.button === 0 && !ptr.shift;
    this.handlers.click(Math.floor(p.x), Math.floor(p.y), positive);
  }

  cancel() {
    if (this.pointer?.painting) this.handlers.strokeEnd();
    this.pointer = null;
    this.stage.classList.remove("panning");
  }
}
