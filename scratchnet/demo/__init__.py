"""The draw-and-predict demo: ``scratchnet demo [--models A.scratchnet B.scratchnet]``.

A Gradio app (the ``[demo]`` extra) in which one draws or uploads a character and sees,
for each model side by side, its five best guesses, its inference time, and which models
disagree. The modules split what is computed from how it is shown:

- :mod:`scratchnet.demo.inference`: models, predictions and disagreements (NumPy only);
- :mod:`scratchnet.demo.defaults`: the small default models, trained once and cached;
- :mod:`scratchnet.demo.view`: the HTML of the model cards and the agreement banner;
- :mod:`scratchnet.demo.app`: the Gradio interface (the only module importing gradio).

Nothing here is imported by ``import scratchnet``.
"""
