/**
 * face-pose: the landmark-geometry estimate's signs (a horizontally flipped face
 * flips yaw and roll and keeps pitch; an in-plane rotation moves roll by about
 * the rotation angle). face-identity: the same face shifted a little is close,
 * other people are far.
 */
import type { Tensor, Tensor4D, Tf } from '../../../src/sdk/index';
import { crop, ctxFor, facePlugin, generatorInfo, useBackend } from './helpers';

let tf: Tf;
beforeAll(async () => {
  tf = await useBackend('wasm');
});

const deg = (t: Tensor): number[] => Array.from(t.dataSync() as Float32Array).map((v) => (v * 180) / Math.PI);

describe('face-pose estimate', () => {
  test('a horizontally flipped face flips yaw and roll, keeps pitch', () => {
    const m = facePlugin.loadPoseModel(tf);
    const rows: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const x = crop(tf, name);
      const [yaw, pitch, roll] = deg(tf.tidy(() => m.pose(x)));
      const [fyaw, fpitch, froll] = deg(tf.tidy(() => m.pose(tf.reverse(x, 2))));
      rows.push(
        `${name}: yaw ${yaw.toFixed(1)} / flipped ${fyaw.toFixed(1)}, pitch ${pitch.toFixed(1)} / ${fpitch.toFixed(1)}, roll ${roll.toFixed(1)} / ${froll.toFixed(1)}`,
      );
      expect(Math.abs(yaw)).toBeGreaterThan(5); // these sample faces are turned
      expect(Math.sign(fyaw)).toBe(-Math.sign(yaw));
      expect(Math.abs(fyaw + yaw)).toBeLessThan(0.25 * Math.abs(yaw) + 3);
      expect(Math.abs(froll + roll)).toBeLessThan(0.15 * Math.abs(roll) + 3);
      expect(Math.abs(fpitch - pitch)).toBeLessThan(6);
      x.dispose();
    }
    console.log(`pose (degrees), original / flipped:\n${rows.join('\n')}`);
    m.dispose();
  });

  test('rotating the image in-plane by ±12° moves roll by about ∓12° (image rotated counter-clockwise → roll decreases)', () => {
    const m = facePlugin.loadPoseModel(tf);
    const x = crop(tf, 'a');
    const roll = (img: Tensor4D) => deg(tf.tidy(() => m.pose(img)))[2];
    const r0 = roll(x);
    // tf.image.rotateWithOffset: positive radians turn the image counter-clockwise on screen.
    const ccw = tf.tidy(() => tf.image.rotateWithOffset(x, (12 * Math.PI) / 180, 0.5)) as Tensor4D;
    const cw = tf.tidy(() => tf.image.rotateWithOffset(x, (-12 * Math.PI) / 180, 0.5)) as Tensor4D;
    const dCcw = roll(ccw) - r0;
    const dCw = roll(cw) - r0;
    console.log(
      `roll ${r0.toFixed(1)}°, rotated ccw 12° → Δ ${dCcw.toFixed(1)}°, cw 12° → Δ ${dCw.toFixed(1)}°`,
    );
    expect(dCcw).toBeLessThan(-8);
    expect(dCcw).toBeGreaterThan(-16);
    expect(dCw).toBeGreaterThan(8);
    expect(dCw).toBeLessThan(16);
    tf.dispose([x, ccw, cw]);
    m.dispose();
  });
});

describe('face-identity energy', () => {
  test('same face shifted by a few pixels: small; other people: larger', async () => {
    const def = facePlugin.controls.find((c: { name: string }) => c.name === 'face-identity');
    const inst = await def.load(ctxFor(tf), {}, generatorInfo(238));
    const a = crop(tf, 'a');
    const resize = (t: Tensor4D) => tf.image.resizeBilinear(t, [238, 238]) as Tensor4D;
    const others = tf.tidy(() =>
      tf.concat([crop(tf, 'a', 6, -4), crop(tf, 'a', -5, 5), resize(crop(tf, 'b')), resize(crop(tf, 'c'))]),
    ) as Tensor4D;
    const pair = tf.tidy(() => tf.tile(a, [4, 1, 1, 1])) as Tensor4D;
    const z = tf.zeros([4, 8]);
    const e = Array.from(inst.energy(others, { z, pairImages: pair }).dataSync() as Float32Array);
    const self = inst.energy(a, { z: tf.zeros([1, 8]), pairImages: a }).dataSync()[0];
    console.log(
      `identity energy: self ${self.toExponential(2)}, shifted ${e[0].toFixed(4)} ${e[1].toFixed(4)}, other people ${e[2].toFixed(4)} ${e[3].toFixed(4)}`,
    );
    expect(Math.abs(self)).toBeLessThan(1e-5);
    // E = (1 − cos) / 0.05 (IDENTITY_SCALE): a shifted crop of the same face stays well below 1, other people near 1.
    expect(Math.max(e[0], e[1])).toBeLessThan(0.5);
    expect(Math.min(e[2], e[3])).toBeGreaterThan(0.8);
    expect(Math.min(e[2], e[3])).toBeGreaterThan(3 * Math.max(e[0], e[1]));
    expect(() => inst.energy(a, { z: tf.zeros([1, 8]) })).toThrow(/pairImages/);
    tf.dispose([a, others, pair, z]);
    inst.dispose();
  });
});
