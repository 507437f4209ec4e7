"""The versioned JSON API (``/api/v1``): the exam client's surface, used by the pages too."""
