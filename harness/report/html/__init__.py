"""The self-contained HTML report of one run or several: ``report/index.html`` (see ``docs/report.md``)."""
