"""The sync engine as stages, each a small unit: claim (:mod:`.claim`), map (:mod:`.prepare`),
look before sending (:mod:`.existing`), choose names (:mod:`.names`), send (:mod:`.send`), write
back (:mod:`.write_back`), and recover what a dead run left (:mod:`.recover`); :mod:`.engine`
runs them and keeps the run's promises.

May import ``domain``, ``mis``, ``store`` and ``quickbooks``; never ``service``.
"""
