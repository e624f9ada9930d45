"""Views, one module per page: patients, prescribe, pharmacy, chairs, run sheet."""
