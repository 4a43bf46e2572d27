"""The ADClick fusion head: image + residual features + clicks + prompt -> mask logits.

The backbone is frozen and runs once per image; this head is all that is
trained, and it is split in two so that a click costs only the second part:

- ``encode`` (once per image): projects backbone features, residual features
  and the normalised anomaly distance into one stride-8 map, and the shallow
  stride-4 features for boundaries.
- ``decode`` (every click): encodes the click disks and the previous mask
  with a small strided conv (added to the stride-8 map, SimpleClick's
  convention), adds "looks like what was clicked" similarity maps, runs a
  few dilated residual blocks modulated by the prompt (FiLM), then decodes to
  stride 4 and refines at model resolution with the image itself, which is
  what thin defects (cracks, scratches) need.

Clicks are optional (all-zero maps), so the same network scores an image
without any click: ADClick-Seg, a supervised detector. The prompt is
optional too: without one a learned "no prompt" vector stands in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HeadConfig:
    feat_dim: int = 152  # backbone patch features (efficientnet-lite0 stage3+stage5)
    fine_dim: int = 24  # stride-4 features (efficientnet-lite0 stage2)
    text_dim: int = 384  # prompt embedding (all-MiniLM-L6-v2)
    proj: int = 48
    width: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    key_dim: int = 32
    fine_width: int = 32
    refine_width: int = 8
    # False (the default since the tenth session): the head sees only the residual (|f - nearest
    # normal|, distance), not the features themselves, which tell products apart: heads that saw
    # them learned each training product's defects and overpainted unseen ones
    # (bench/results/click_lopo_residual_only.md). Checkpoints from before have no key: True.
    raw_features: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HeadConfig":
        known = {"raw_features": True} | {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "dilations" in known:
            known["dilations"] = tuple(known["dilations"])
        return cls(**known)


@dataclass
class Static:
    """Per-image head inputs that no click changes (cached by ClickSession)."""

    s8: torch.Tensor  # (B, width, h, w)
    key: torch.Tensor  # (B, key_dim, h, w), unit vectors for click similarity
    s4: torch.Tensor  # (B, fine_width, 2h, 2w)
    rgb: torch.Tensor  # (B, 3, H, W), centred


class Block(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)
        self.norm = nn.GroupNorm(8, width)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x))
        return x + F.gelu(y * (1 + gamma[..., None, None]) + beta[..., None, None])


class ClickHead(nn.Module):
    def __init__(self, config: HeadConfig | None = None):
        super().__init__()
        c = self.config = config or HeadConfig()
        self.feat_proj = nn.Conv2d(c.feat_dim, c.proj, 1) if c.raw_features else None
        self.resid_proj = nn.Conv2d(c.feat_dim, c.proj, 1)
        fused = (2 if c.raw_features else 1) * c.proj + 1
        self.fuse = nn.Sequential(nn.Conv2d(fused, c.width, 1), nn.GELU(), nn.Conv2d(c.width, c.width, 1))
        self.key = nn.Conv2d(c.width, c.key_dim, 1)
        self.fine_proj = nn.Conv2d(c.fine_dim, c.fine_width, 1)
        # clicks: [positive disks, negative disks, previous mask] at model resolution
        self.click1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.click2 = nn.Conv2d(16, c.fine_width, 3, stride=2, padding=1)
        self.click3 = nn.Conv2d(c.fine_width, c.width, 3, stride=2, padding=1)
        self.sim_proj = nn.Conv2d(2, c.width, 1)
        self.null_prompt = nn.Parameter(torch.zeros(c.text_dim))
        self.film = nn.Sequential(nn.Linear(c.text_dim, 128), nn.GELU(), nn.Linear(128, 2 * c.width * len(c.dilations)))
        nn.init.zeros_(self.film[-1].weight)  # start as the identity modulation
        nn.init.zeros_(self.film[-1].bias)
        self.blocks = nn.ModuleList(Block(c.width, d) for d in c.dilations)
        self.context = nn.Linear(c.width, c.width)
        self.to_fine = nn.Conv2d(c.width, c.fine_width, 1)
        self.fine = nn.Sequential(nn.GELU(), nn.Conv2d(c.fine_width, c.fine_width, 3, padding=1), nn.GELU())
        self.coarse_logit = nn.Conv2d(c.fine_width, 1, 1)
        self.fine_to_refine = nn.Conv2d(c.fine_width, 6, 1)
        self.refine = nn.Sequential(
            nn.Conv2d(6 + 3 + 3 + 1, c.refine_width, 3, padding=1), nn.GELU(), nn.Conv2d(c.refine_width, 1, 3, padding=1)
        )

    # -- once per image -----------------------------------------------------
    def encode(self, feat: torch.Tensor, resid: torch.Tensor, dist: torch.Tensor, fine: torch.Tensor, rgb: torch.Tensor) -> Static:
        parts = [self.resid_proj(resid), torch.log1p(dist.clamp_min(0))]
        if self.feat_proj is not None:
            parts.insert(0, self.feat_proj(feat))
        x = torch.cat(parts, dim=1)
        s8 = self.fuse(x)
        return Static(s8=s8, key=F.normalize(self.key(s8), dim=1), s4=self.fine_proj(fine), rgb=(rgb - 0.5) / 0.25)

    # -- every click --------------------------------------------------------
    def decode(
        self,
        static: Static,
        clicks: torch.Tensor | None = None,
        prompt: torch.Tensor | None = None,
        return_coarse: bool = False,
    ):
        """Mask logits (B, 1, H, W) at model resolution.

        ``clicks``: (B, 3, H, W) [positive disks, negative disks, previous
        mask], or None for no clicks (ADClick-Seg). ``prompt``: (B, text_dim)
        unit embeddings, or None; rows that are all zero also mean "no prompt".
        """
        b, _, H, W = static.rgb.shape
        if clicks is None:
            clicks = static.rgb.new_zeros(b, 3, H, W)
        c1 = F.gelu(self.click1(clicks))
        c4 = F.gelu(self.click2(c1))
        c8 = self.click3(c4)
        x = static.s8 + c8 + self.sim_proj(self._click_similarity(static.key, clicks))

        gammas, betas = self._film(prompt, b, x.dtype)
        for i, block in enumerate(self.blocks):
            x = block(x, gammas[:, i], betas[:, i])
            if i == len(self.blocks) // 2 - 1:  # image-level context halfway, cheap global view
                x = x + self.context(x.mean(dim=(2, 3)))[..., None, None]

        f4 = F.interpolate(self.to_fine(x), size=static.s4.shape[-2:], mode="bilinear", align_corners=False)
        f4 = self.fine(f4 + static.s4 + c4)
        coarse = F.interpolate(self.coarse_logit(f4), size=(H, W), mode="bilinear", align_corners=False)
        detail = F.interpolate(self.fine_to_refine(f4), size=(H, W), mode="bilinear", align_corners=False)
        logits = coarse + self.refine(torch.cat([detail, static.rgb, clicks, coarse], dim=1))
        return (logits, coarse) if return_coarse else logits

    def forward(self, feat, resid, dist, fine, rgb, clicks=None, prompt=None):
        return self.decode(self.encode(feat, resid, dist, fine, rgb), clicks, prompt)

    def _film(self, prompt: torch.Tensor | None, b: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        n, w = len(self.config.dilations), self.config.width
        null = self.null_prompt.expand(b, -1)
        if prompt is None:
            prompt = null
        else:
            missing = (prompt.abs().sum(dim=1, keepdim=True) == 0).to(dtype)
            prompt = prompt * (1 - missing) + null * missing
        film = self.film(prompt).view(b, n, 2, w)
        return film[:, :, 0], film[:, :, 1]

    @staticmethod
    def _click_similarity(key: torch.Tensor, clicks: torch.Tensor) -> torch.Tensor:
        """(B, 2, h, w): max cosine similarity of each cell to the clicked cells, positive and negative.

        "Find what looks like what I clicked" is how one click can select a
        whole crack or a whole uneven area; the key space is learned.
        """
        b, _, h, w = key.shape
        disks = F.adaptive_max_pool2d(clicks[:, :2], (h, w)).flatten(2) > 0.5  # (B, 2, h*w): clicked cells
        flat = key.flatten(2)  # (B, K, h*w)
        out = key.new_zeros(b, 2, h * w)
        for i in range(b):
            for ch in range(2):
                idx = disks[i, ch].nonzero()[:, 0]
                if len(idx):  # only clicked cells as queries: a handful, not h*w
                    out[i, ch] = (flat[i, :, idx].T @ flat[i]).max(dim=0).values
        return out.view(b, 2, h, w)


@torch.no_grad()
def with_feature_input(head: ClickHead) -> ClickHead:
    """``head`` grown to also see the backbone features, computing exactly what it did until trained.

    The new feature projection enters the fusion through zero weights, so the
    first step starts from the residual-only head's output; training then
    learns how much the features add. For a model trained on one product's
    labels (ADClick-Seg), where seeing the product is the point.
    """
    if head.config.raw_features:
        return head
    grown = ClickHead(replace(head.config, raw_features=True))
    state = head.state_dict()
    old = state["fuse.0.weight"]  # (width, proj + 1, 1, 1): [residual, distance]
    state["fuse.0.weight"] = torch.cat([old.new_zeros(old.shape[0], head.config.proj, 1, 1), old], dim=1)
    state |= {k: v for k, v in grown.state_dict().items() if k.startswith("feat_proj.")}
    grown.load_state_dict(state)
    return grown


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
