/**
 * test/helpers/optional.ts: a missing optional part skips its tests on a
 * developer machine but fails the suite in CI (PROMPTGEN_REQUIRE_SHARED=1).
 */
function load(requireShared: string | undefined): typeof import('../helpers/optional') {
  const saved = process.env.PROMPTGEN_REQUIRE_SHARED;
  if (requireShared === undefined) delete process.env.PROMPTGEN_REQUIRE_SHARED;
  else process.env.PROMPTGEN_REQUIRE_SHARED = requireShared;
  try {
    let mod!: typeof import('../helpers/optional');
    jest.isolateModules(() => {
      // jest.isolateModules needs a synchronous load, so require rather than import
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require('../helpers/optional');
    });
    return mod;
  } finally {
    if (saved === undefined) delete process.env.PROMPTGEN_REQUIRE_SHARED;
    else process.env.PROMPTGEN_REQUIRE_SHARED = saved;
  }
}

describe('optionalPart', () => {
  it('runs the tests of a part that is there, in CI or not', () => {
    expect(load('1').optionalPart('the native BLAS tests', null)).toBe(true);
    expect(load(undefined).optionalPart('the native BLAS tests', null)).toBe(true);
  });

  it('skips, saying why, where a part is missing outside CI', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(
        load(undefined).optionalPart('the native BLAS tests', 'native/build/blas.node is not built'),
      ).toBe(false);
      expect(load('0').optionalPart('the native BLAS tests', 'no OpenBLAS library found')).toBe(false);
      expect(warn.mock.calls).toEqual([
        ['skipping the native BLAS tests: native/build/blas.node is not built'],
        ['skipping the native BLAS tests: no OpenBLAS library found'],
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('fails, naming the part and the reason, where a part is missing in CI', () => {
    expect(() =>
      load('1').optionalPart('the live comparison with face-api', "Cannot find module '@tensorflow/tfjs'"),
    ).toThrow(
      "cannot run the live comparison with face-api (Cannot find module '@tensorflow/tfjs'), and PROMPTGEN_REQUIRE_SHARED=1 forbids skipping them",
    );
  });
});
