"""TensorFlow.js layers export of the trained networks (BatchNorm folded in), the
reading and rewriting of such files, and their cross-checks: a torch re-implementation
of the Keras layers, and TF.js itself through node."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from .common import REPO, log
from .models import class_code


def dense_cfg(name, units, act, input_dim=None):
    c = {'name': name, 'trainable': True, 'units': units, 'activation': act, 'use_bias': True,
         'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
         'bias_initializer': {'class_name': 'Zeros', 'config': {}},
         'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
         'kernel_constraint': None, 'bias_constraint': None, 'dtype': 'float32'}
    if input_dim is not None:
        c['batch_input_shape'] = [None, input_dim]
    return {'class_name': 'Dense', 'config': c}


def conv_cfg(cls, name, filters, k, s, act, batch_input_shape=None):
    c = {'name': name, 'trainable': True, 'filters': filters, 'kernel_size': [k, k],
         'strides': [s, s], 'padding': 'same', 'data_format': 'channels_last',
         'dilation_rate': [1, 1], 'activation': act, 'use_bias': True,
         'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
         'bias_initializer': {'class_name': 'Zeros', 'config': {}},
         'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
         'kernel_constraint': None, 'bias_constraint': None, 'dtype': 'float32'}
    if batch_input_shape is not None:
        c['batch_input_shape'] = batch_input_shape
    return {'class_name': cls, 'config': c}


def write_layers_model(out_dir, model_name, layer_cfgs, weights, metadata=None):
    """weights: list of (name, np.float32 array) in load order; metadata: the
    model.json's userDefinedMetadata (optional)."""
    os.makedirs(out_dir, exist_ok=True)
    bin_name = 'group1-shard1of1.bin'
    data = b''.join(np.ascontiguousarray(a, dtype='<f4').tobytes() for _, a in weights)
    with open(os.path.join(out_dir, bin_name), 'wb') as f:
        f.write(data)
    spec = {
        'format': 'layers-model',
        'generatedBy': 'scripts/train-mnist-demo.py (PyTorch ' + torch.__version__ + ')',
        'convertedBy': None,
        'modelTopology': {
            'class_name': 'Sequential',
            'config': {'name': model_name, 'layers': layer_cfgs},
            'keras_version': 'tfjs-layers 4.22.0', 'backend': 'tensor_flow.js'},
        'weightsManifest': [{'paths': [bin_name], 'weights': [
            {'name': n, 'shape': list(a.shape), 'dtype': 'float32'} for n, a in weights]}],
    }
    if metadata:
        spec['userDefinedMetadata'] = metadata
    with open(os.path.join(out_dir, 'model.json'), 'w') as f:
        json.dump(spec, f)
    return len(data)


def fold_bn(bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    return scale.detach(), shift.detach()


def export_generator(g, zdim, out_dir):
    c1 = g.c1
    s1, b1 = fold_bn(g.bn1)  # per channel of the (h,w,c) Dense output
    wfc = g.fc.weight.detach().T * s1.repeat(49)[None, :]          # [zdim, 49*c1]
    bfc = b1.repeat(49)
    s2, b2 = fold_bn(g.bn2)
    w1 = g.up1.weight.detach() * s2[None, :, None, None]           # [in, out, kh, kw]
    w2 = g.up2.weight.detach()
    layers = [
        dense_cfg('g_dense', 49 * c1, 'relu', wfc.shape[0]),
        {'class_name': 'Reshape', 'config': {'name': 'g_reshape', 'trainable': True,
                                             'target_shape': [7, 7, c1], 'dtype': 'float32'}},
        conv_cfg('Conv2DTranspose', 'g_up1', w1.shape[1], 4, 2, 'relu'),
    ]
    weights = [('g_dense/kernel', wfc), ('g_dense/bias', bfc),
               ('g_up1/kernel', w1.permute(2, 3, 1, 0)), ('g_up1/bias', b2)]
    if g.refine:
        s3, b3 = fold_bn(g.bn3)
        w2 = w2 * s3[None, :, None, None]
        layers += [conv_cfg('Conv2DTranspose', 'g_up2', g.refine, 4, 2, 'relu'),
                   conv_cfg('Conv2D', 'g_out', 1, 3, 1, 'sigmoid')]
        weights += [('g_up2/kernel', w2.permute(2, 3, 1, 0)), ('g_up2/bias', b3),
                    ('g_out/kernel', g.out.weight.detach().permute(2, 3, 1, 0)), ('g_out/bias', g.out.bias.detach())]
    else:
        layers.append(conv_cfg('Conv2DTranspose', 'g_up2', 1, 4, 2, 'sigmoid'))
        weights += [('g_up2/kernel', w2.permute(2, 3, 1, 0)), ('g_up2/bias', g.up2.bias.detach())]
    weights = [(n, a.numpy().astype(np.float32)) for n, a in weights]
    # the plugin builds the model's input [z, code(z)] from classCode
    metadata = {'classCode': code_meta(zdim, g.code)} if g.code is not None else None
    return write_layers_model(out_dir, 'mnist_generator', layers, weights, metadata)


def code_meta(zdim, code):
    offsets, temperature = code
    return {'latentDim': zdim, 'dims': list(range(10)), 'offsets': [float(b) for b in offsets],
            'temperature': float(temperature),
            'note': 'model input = concat(z, softmax(temperature * (z[dims] + offsets))); '
                    'digit class of z = argmax(z[dims] + offsets)'}


def generator_input(z, meta):
    """The exported generator's input for latents z: z itself, or [z, soft class code]."""
    cc = (meta or {}).get('classCode')
    if not cc:
        return z
    z = torch.as_tensor(z)
    code = class_code(z, torch.tensor(cc['offsets'], dtype=z.dtype), cc['temperature'])[1]
    return torch.cat([z, code], 1)


def export_classifier(c, out_dir):
    layers = [
        conv_cfg('Conv2D', 'c_conv1', c.conv1.out_channels, 3, 1, 'relu', [None, 28, 28, 1]),
        {'class_name': 'MaxPooling2D', 'config': {'name': 'c_pool1', 'trainable': True,
         'pool_size': [2, 2], 'strides': [2, 2], 'padding': 'valid', 'data_format': 'channels_last'}},
        conv_cfg('Conv2D', 'c_conv2', c.conv2.out_channels, 3, 1, 'relu'),
        {'class_name': 'MaxPooling2D', 'config': {'name': 'c_pool2', 'trainable': True,
         'pool_size': [2, 2], 'strides': [2, 2], 'padding': 'valid', 'data_format': 'channels_last'}},
        {'class_name': 'Flatten', 'config': {'name': 'c_flatten', 'trainable': True,
                                             'data_format': 'channels_last'}},
        dense_cfg('c_dense1', 128, 'relu'),
        dense_cfg('c_logits', 10, 'linear'),
    ]
    weights = [('c_conv1/kernel', c.conv1.weight.permute(2, 3, 1, 0)), ('c_conv1/bias', c.conv1.bias),
               ('c_conv2/kernel', c.conv2.weight.permute(2, 3, 1, 0)), ('c_conv2/bias', c.conv2.bias),
               ('c_dense1/kernel', c.fc1.weight.T), ('c_dense1/bias', c.fc1.bias),
               ('c_logits/kernel', c.fc2.weight.T), ('c_logits/bias', c.fc2.bias)]
    weights = [(n, a.detach().numpy().astype(np.float32)) for n, a in weights]
    return write_layers_model(out_dir, 'mnist_classifier', layers, weights)


def load_layers_files(model_dir):
    """model.json + its weight shards -> (spec, {name: float32 array}) in manifest order."""
    spec = json.load(open(os.path.join(model_dir, 'model.json')))
    W = {}
    for group in spec['weightsManifest']:
        raw = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            n = int(np.prod(w['shape']))
            W[w['name']] = np.frombuffer(raw, '<f4', n, off).reshape(w['shape']).copy()
            off += 4 * n
    return spec, W


def save_layers_files(model_dir, spec, W):
    """Rewrites the (single) shard and model.json from {name: array} in manifest order."""
    group = spec['weightsManifest'][0]
    data = b''.join(np.ascontiguousarray(W[w['name']], '<f4').tobytes() for w in group['weights'])
    with open(os.path.join(model_dir, group['paths'][0]), 'wb') as f:
        f.write(data)
    with open(os.path.join(model_dir, 'model.json'), 'w') as f:
        json.dump(spec, f)


def keras_forward(spec, W, x, dtype=torch.float64):
    """Runs a layers model (as exported here) with plain torch ops that follow Keras
    semantics (NHWC, TF 'same' padding): an independent check of the export, and
    the evaluator of the exported files."""
    W = {k: torch.from_numpy(v).to(dtype) for k, v in W.items()}
    x = torch.as_tensor(x).to(dtype)
    acts = {'relu': F.relu, 'sigmoid': torch.sigmoid, 'linear': lambda t: t}
    for l in spec['modelTopology']['config']['layers']:
        cls, cfg = l['class_name'], l['config']
        name = cfg['name']
        if cls == 'Dense':
            x = acts[cfg['activation']](x @ W[name + '/kernel'] + W[name + '/bias'])
        elif cls == 'Reshape':
            x = x.reshape([x.shape[0]] + cfg['target_shape'])
        elif cls == 'Flatten':
            x = x.reshape(x.shape[0], -1)
        elif cls == 'MaxPooling2D':
            x = F.max_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        elif cls == 'Conv2D':  # stride 1, odd kernel, 'same' -> symmetric pad (k-1)/2
            k = W[name + '/kernel']  # [kh,kw,in,out]
            y = F.conv2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), W[name + '/bias'],
                         padding=(k.shape[0] - 1) // 2)
            x = acts[cfg['activation']](y.permute(0, 2, 3, 1))
        elif cls == 'Conv2DTranspose':
            # TF: output H*s; gradient of a 'same' conv with pad_total = k - s, pad_before = floor(/2)
            k = W[name + '/kernel']  # [kh,kw,out,in]
            s = cfg['strides'][0]
            pb = max(k.shape[0] - s, 0) // 2
            full = F.conv_transpose2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), stride=s)
            H = x.shape[1] * s
            y = full[:, :, pb:pb + H, pb:pb + H] + W[name + '/bias'][None, :, None, None]
            x = acts[cfg['activation']](y.permute(0, 2, 3, 1))
        else:
            raise ValueError(cls)
    return x


def keras_reference(model_dir, x):
    spec, W = load_layers_files(model_dir)
    with torch.no_grad():
        return keras_forward(spec, W, x).numpy()


def tfjs_run(model_dir, x):
    """Runs the exported model in TF.js (node, cpu backend) via scripts/mnist-demo-tfjs-run.js."""
    with tempfile.TemporaryDirectory() as td:
        xin, xout = os.path.join(td, 'in.bin'), os.path.join(td, 'out.bin')
        x.astype('<f4').tofile(xin)
        r = subprocess.run(['node', os.path.join(REPO, 'scripts', 'mnist-demo-tfjs-run.js'),
                            model_dir, xin, ','.join(map(str, x.shape)), xout],
                           cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-2000:])
        shape = json.loads(r.stdout.strip().splitlines()[-1])
        return np.fromfile(xout, '<f4').reshape(shape)


def export_and_check(args, G_ema, clf, xte, gen):
    """Writes both models under args.out and checks the files against PyTorch."""
    gdir, cdir = os.path.join(args.out, 'generator'), os.path.join(args.out, 'classifier')
    gbytes = export_generator(G_ema, args.latent_dim, gdir)
    cbytes = export_classifier(clf, cdir)
    log(f'exported generator ({gbytes} bytes of weights) to {gdir}, classifier ({cbytes} bytes) to {cdir}')

    zc = torch.randn(64, args.latent_dim, generator=gen)
    with torch.no_grad():
        g_torch = G_ema(zc).permute(0, 2, 3, 1).numpy()
        c_torch = clf(xte[:64]).numpy()
    xc_nhwc = xte[:64].permute(0, 2, 3, 1).numpy().copy()
    gin = generator_input(zc, load_layers_files(gdir)[0].get('userDefinedMetadata')).numpy()
    g_ref = keras_reference(gdir, gin)
    c_ref = keras_reference(cdir, xc_nhwc)
    log(f'export check (Keras-semantics reference vs torch): generator max|diff| {np.abs(g_ref - g_torch).max():.2e}, '
        f'classifier max|diff| {np.abs(c_ref - c_torch).max():.2e}')
    try:
        g_tfjs = tfjs_run(gdir, gin)
        c_tfjs = tfjs_run(cdir, xc_nhwc)
        gd, cd = np.abs(g_tfjs - g_torch).max(), np.abs(c_tfjs - c_torch).max()
        log(f'export check (TF.js cpu vs torch): generator max|diff| {gd:.2e}, classifier logits max|diff| {cd:.2e}')
        if gd > 1e-4 or cd > 1e-3:
            sys.exit('TF.js outputs differ from PyTorch: export bug')
    except Exception as e:  # noqa: BLE001
        log(f'TF.js check skipped/failed: {e}')
