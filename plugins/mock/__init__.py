"""massbench built-in plugin: the Magneticum/SIXTE loader and the synthetic eROSITA catalogue.

Public helpers (import them from their modules; this package imports nothing heavy):

- :func:`massbench.plugins.mock.kde.dynamical_cube` - fast Gaussian-KDE phase-space cube (paper section 2.2)
- :func:`massbench.plugins.mock.dynamics.gapper`, :func:`~massbench.plugins.mock.dynamics.sigma_clip_velocities`,
  :func:`~massbench.plugins.mock.dynamics.dynamical_selection`, :func:`~massbench.plugins.mock.dynamics.richness_and_dispersion`
- :func:`massbench.plugins.mock.projection.sky_to_projected`, :func:`~massbench.plugins.mock.projection.photon_maps`
- :data:`massbench.plugins.mock.cosmology.WMAP7`
- :func:`massbench.plugins.mock.generator.generate_catalogue`, :func:`massbench.plugins.mock.loader.load_catalogue`
- dataset classes :class:`massbench.plugins.mock.datasets.ErositaMock` and ``MagneticumSixte``

The catalogue layout and measured figures are in docs/mock.md.
"""
