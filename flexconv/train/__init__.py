"""Training: the LightningModule, callbacks, ``flexconv train``/``evaluate``/``crossres`` (needs lightning, hydra)."""
