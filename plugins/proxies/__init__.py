"""massbench built-in plugin: scalar mass proxies (Evrard et al. 2014 multi-property model, paper section 3).

Modules: :mod:`.observables` (Table 2 names and the input mapping), :mod:`.binning` (redshift bins),
:mod:`.model` (equations 3-7), :mod:`.search` (exhaustive combinations), :mod:`.table` (reading
TABLE), :mod:`.report` (Table 3 layout), :mod:`.figure` (Figure 3), :mod:`.estimators`
(leaderboard estimators), :mod:`.cli` (``massbench proxies``), :mod:`.plugin` (hooks).
"""
