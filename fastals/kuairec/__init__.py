"""KuaiRec 2.0 (Gao et al., CIKM 2022): its interaction tables, loaded and cleaned the seed
notebook's way; a KuaiRec-format folder generated at any scale; and the seed notebook's
pipeline (``fastals kuairec``, in :mod:`fastals.kuairec.pipeline`)."""

from fastals.kuairec.generate import write_kuairec_folder
from fastals.kuairec.load import KuaiRecData, format_cleaning_report, load_kuairec, load_table

__all__ = [
    "KuaiRecData",
    "format_cleaning_report",
    "load_kuairec",
    "load_table",
    "write_kuairec_folder",
]
