"""VGG-16 for precision/recall (fc2 features, 4096-d), in plain torch with torchvision's key names.

Loads `vgg16-397923af.pth` (keys `features.0.weight` ... `features.28.bias`, `classifier.0/3/6.*`).
Images 0..255 are resized to 224 by area averaging (as NVlabs' vgg16 metric network does), scaled to
0..1 and normalised with the ImageNet mean and std; the output is fc2 after its ReLU (SPEC section 4).
The convolutional trunk also serves LPIPS (features.lpips), which taps the five relu*_* outputs.
"""

import torch
import torch.nn.functional as F
from torch import nn

from harness.metrics.features.base import FeatureNetwork, area_resize, check_images

VGG16_INPUT_SIZE = 224
VGG16_FEATURE_DIM = 4096
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Output channels of the 13 convolutions; 'M' is a 2x2 max pool (torchvision's configuration "D").
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
# Indices into `features` after which LPIPS reads relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)


def build_vgg16_trunk() -> nn.Sequential:
    """torchvision's `features` Sequential: conv3x3 + ReLU layers and max pools, indices 0..30."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG16_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = item
    return nn.Sequential(*layers)


class VGG16Features(FeatureNetwork):
    """VGG-16 -> fc2 features [N, 4096] (after ReLU); images [N, 3, H, W] in 0..255."""

    def __init__(self, input_size: int = VGG16_INPUT_SIZE):
        super().__init__()
        self.name = "vgg16 (torchvision vgg16-397923af, fc2)"
        self.weights_sha256 = None
        self.preprocessing = "area resize (bilinear when enlarging) to input_size; x / 255, ImageNet mean/std"
        self.feature_dim = VGG16_FEATURE_DIM
        self.input_size = input_size
        self.features = build_vgg16_trunk()
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 1000),  # ImageNet logits: loaded, unused
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = area_resize(check_images(images), self.input_size)
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * 255.0
        x = (x - mean) / std
        x = F.adaptive_avg_pool2d(self.features(x), (7, 7)).flatten(1)
        fc1 = F.relu(self.classifier[0](x))
        return F.relu(self.classifier[3](fc1))
