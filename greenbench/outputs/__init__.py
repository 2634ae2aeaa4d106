"""What greenbench shows and writes from results: the terminal table, the Markdown and HTML reports, the gate
summary, history, exports for other tools, the browser check.
"""
