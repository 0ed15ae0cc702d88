"""The CPU-capable synchronised BatchNorm swaps in and out without touching the learned state; on one
process it is BatchNorm. (Its synchronisation across processes is tested end to end in test_ddp.py.)"""

from __future__ import annotations

import torch
from torch import nn

from flexconv.train.sync_batchnorm import GlobalBatchNorm, convert_batch_norm, revert_batch_norm


def test_conversion_keeps_the_parameters_and_statistics_and_reverts_to_the_original_classes() -> None:
    model = nn.Sequential(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3), nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)))
    norms = [model[1], model[2][1]]
    converted = convert_batch_norm(model)
    assert [type(m) for m in converted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] == [
        GlobalBatchNorm
    ] * 2
    assert converted[1].weight is norms[0].weight and converted[2][1].running_var is norms[1].running_var

    reverted = revert_batch_norm(converted)
    assert type(reverted[1]) is nn.BatchNorm1d and type(reverted[2][1]) is nn.BatchNorm2d
    assert reverted[1].weight is norms[0].weight and reverted[2][1].running_var is norms[1].running_var


def test_on_one_process_it_is_batch_norm() -> None:
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(3, momentum=None)
    converted = convert_batch_norm(nn.Sequential(nn.BatchNorm2d(3, momentum=None)))[0]
    x = torch.randn(4, 3, 5, 5)
    assert torch.equal(converted(x), plain(x))
    assert torch.equal(converted.running_var, plain.running_var) and int(converted.num_batches_tracked) == 1
