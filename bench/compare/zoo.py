"""The comparison zoo in PyTorch: the same eight networks as the .dnn sources
listed in SOURCES, with the same parameter names, so one safetensors file of
a PyTorch state_dict runs in dnnc, ONNX Runtime and TorchScript alike.

Architectures follow ../shared/anchors/models.py (the anchors' figures were
measured on them): torchvision ResNet-18 and MobileNetV2, a Keras-style MNIST
CNN, classic LeNet-5, LSTM/GRU classifiers (T=50, 128 -> 256, Dense 10) and
a 28x28 conv autoencoder.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# name -> .dnn source (relative to the repository root)
SOURCES = {
    "mlp": "examples/mnist_mlp.dnn",
    "cnn": "examples/mnist_cnn.dnn",
    "lenet5": "examples/lenet5.dnn",
    "resnet18": "examples/resnet18.dnn",
    "mobilenetv2": "examples/mobilenet_v2.dnn",
    "lstm": "examples/lstm_classifier.dnn",
    "gru": "bench/models/gru_classifier.dnn",
    "autoencoder": "examples/conv_autoencoder.dnn",
}

# Per-sample input shape as each runtime sees it (the dnnc MLP takes the
# flattened image; the PyTorch one flattens inside).
INPUT_SHAPES = {
    "mlp": (784,),
    "cnn": (1, 28, 28),
    "lenet5": (1, 32, 32),
    "resnet18": (3, 224, 224),
    "mobilenetv2": (3, 224, 224),
    "lstm": (50, 128),
    "gru": (50, 128),
    "autoencoder": (1, 28, 28),
}


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=1)


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(576, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x)).flatten(1)
        return F.softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.f7 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2).flatten(1)
        return self.f7(torch.tanh(self.f6(torch.tanh(self.f5(x)))))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        planes = [64, 128, 256, 512]
        inplanes = 64
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}",
                    nn.Sequential(BasicBlock(inplanes, p, stride), BasicBlock(p, p, 1)))
            inplanes = p
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def conv_bn_relu6(inp, oup, kernel=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(oup), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand):
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == oup
        layers = [conv_bn_relu6(inp, hidden, 1)] if expand != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, hidden),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        features = [conv_bn_relu6(3, 32, 3, 2)]
        inp = 32
        for expand, channels, repeats, stride in cfg:
            for i in range(repeats):
                features.append(InvertedResidual(inp, channels, stride if i == 0 else 1, expand))
                inp = channels
        features.append(conv_bn_relu6(inp, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


class RecurrentClassifier(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(128, 256, batch_first=True)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 16, 3, padding=1)
        self.enc2 = nn.Conv2d(16, 8, 3, padding=1)
        self.dec1 = nn.Conv2d(8, 16, 3, padding=1)
        self.dec2 = nn.Conv2d(16, 1, 3, padding=1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.enc1(x)), 2)
        x = F.max_pool2d(F.relu(self.enc2(x)), 2)
        x = F.relu(self.dec1(F.interpolate(x, scale_factor=2.0, mode="nearest")))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return torch.sigmoid(self.dec2(x))


MODELS = {
    "mlp": MLP,
    "cnn": MnistCNN,
    "lenet5": LeNet5,
    "resnet18": ResNet18,
    "mobilenetv2": MobileNetV2,
    "lstm": lambda: RecurrentClassifier("lstm"),
    "gru": lambda: RecurrentClassifier("gru"),
    "autoencoder": ConvAutoencoder,
}


def build(name):
    """The model in eval mode with seeded weights; batchnorm statistics are
    randomized so that folding them is actually exercised."""
    torch.manual_seed(0)
    model = MODELS[name]()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return model.eval()


def make_input(name, batch):
    generator = torch.Generator().manual_seed(1)
    return torch.randn((batch,) + INPUT_SHAPES[name], generator=generator)


def flops_per_sample(name):
    """2 x multiply-adds of convolutions, linear and recurrent layers only
    (the anchors' count: no bias, batchnorm, activation or pooling)."""
    model = build(name)
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            n, cout, ho, wo = output.shape
            kh, kw = module.kernel_size
            total[0] += 2 * cout * ho * wo * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            rows = inputs[0].numel() // module.in_features
            total[0] += 2 * rows * module.in_features * module.out_features
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            steps = inputs[0].shape[1]
            gates = 4 if isinstance(module, nn.LSTM) else 3
            total[0] += 2 * steps * gates * module.hidden_size * (module.input_size + module.hidden_size)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear, nn.LSTM, nn.GRU))]
    with torch.no_grad():
        model(make_input(name, 1))
    for handle in handles:
        handle.remove()
    return total[0]
