"""Reusable code of the book *Worked deep-learning solutions*.

Each module's docstring names the book section that derives what it implements.
"""
