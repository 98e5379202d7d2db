"""Input readers and field mapping."""

from quals.data.readers import FieldMap, Row, read_rows

__all__ = ["FieldMap", "Row", "read_rows"]
