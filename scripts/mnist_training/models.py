"""The networks: the digit classifiers, the latent class code, the DCGAN generator
and discriminator."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    """Conv(3x3,c1) relu, maxpool, Conv(3x3,c2) relu, maxpool, Dense 128 relu, Dense 10.
    Input NCHW [n,1,28,28]; the flatten is done in NHWC order so the Dense kernel
    maps 1:1 onto Keras' Flatten of a channels_last tensor."""

    def __init__(self, c1, c2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc1 = nn.Linear(7 * 7 * c2, 128)
        self.fc2 = nn.Linear(128, 10)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


class MlpClassifier(nn.Module):
    """784 -> 512 relu -> 256 relu -> 10. Only a training aid (--aux-mlp): a second
    view of "a clear digit", from a different model family than the CNN, so the
    generator cannot satisfy the confidence term with features only a CNN reads."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)


def class_code(z, offsets, temperature):
    """The latent's digit class and its soft one-hot: y = argmax(z[:10] + b) and
    softmax(t * (z[:10] + b)). With z ~ N(0, I) the class regions have the
    probabilities fit_class_offsets() chose; the soft code keeps the generator
    differentiable in z across class borders (controls need that gradient)."""
    u = z[:, :10] + offsets
    return u.argmax(1), F.softmax(temperature * u, 1)


def fit_class_offsets(prior, gen, n=400000, iters=60):
    """Offsets b with P(argmax(z[:10] + b) = k) = prior[k] for z ~ N(0, I), by
    fixed-point updates b += log(prior / estimate) on one seeded Monte-Carlo batch."""
    z = torch.randn(n, 10, generator=gen)
    b = torch.zeros(10)
    for _ in range(iters):
        est = torch.bincount((z + b).argmax(1), minlength=10).float() / n
        b = b + 0.5 * torch.log(prior / est.clamp_min(1e-6))
        b = b - b.mean()
    return b


class Generator(nn.Module):
    """z -> Dense(7*7*c1) BN relu -> ConvT(4,s2) c2 BN relu -> ConvT(4,s2) 1 sigmoid.
    With refine = c3 > 0 the second ConvT gives c3 channels (BN relu) and a 3x3
    Conv2D maps them to the image: more capacity at full resolution.
    The Dense output is laid out NHWC (h, w, c) like a Keras Reshape([7,7,c1])."""

    def __init__(self, zdim, c1, c2, refine=0, code=None):
        super().__init__()
        self.c1 = c1
        self.refine = refine
        # code = (offsets b [10], temperature t): the digit class is a region of the
        # latent, y = argmax(z[:10] + b), and the network also reads the soft
        # one-hot softmax(t * (z[:10] + b)); see class_code() below.
        self.code = code
        self.fc = nn.Linear(zdim + (10 if code is not None else 0), 7 * 7 * c1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.up1 = nn.ConvTranspose2d(c1, c2, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        if refine:
            self.up2 = nn.ConvTranspose2d(c2, refine, 4, 2, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(refine)
            self.out = nn.Conv2d(refine, 1, 3, padding=1)
        else:
            self.up2 = nn.ConvTranspose2d(c2, 1, 4, 2, 1)

    def forward(self, z):
        if self.code is not None:
            z = torch.cat([z, class_code(z, *self.code)[1]], 1)
        x = self.fc(z).view(-1, 7, 7, self.c1).permute(0, 3, 1, 2)
        x = F.relu(self.bn1(x))
        x = F.relu(self.bn2(self.up1(x)))
        if self.refine:
            return torch.sigmoid(self.out(F.relu(self.bn3(self.up2(x)))))
        return torch.sigmoid(self.up2(x))


class Discriminator(nn.Module):
    """Two strided convs, then a real/fake logit. cond='ac' adds a 10-way class head
    (AC-GAN: trained on real labels and on the latent class of fakes); cond='proj'
    adds the projection term <embed(y), h> to the logit (Miyato & Koyama 2018)."""

    def __init__(self, c1, c2, dropout=0.0, cond='none'):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(dropout),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(dropout),
            nn.Flatten())
        self.adv = nn.Linear(7 * 7 * c2, 1)
        self.cls = nn.Linear(7 * 7 * c2, 10) if cond == 'ac' else None
        self.embed = nn.Embedding(10, 7 * 7 * c2) if cond == 'proj' else None

    def forward(self, x, y=None):
        """-> (real/fake logit [n], class logits [n, 10] or None)."""
        h = self.trunk(x * 2 - 1)
        out = self.adv(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out, (self.cls(h) if self.cls is not None else None)
