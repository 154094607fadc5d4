"""The artist's one-shots: import, analysis, index, kit selection and the sampler that plays them.

Import the modules themselves (``sample_library.library``, ``sample_library.sampler``...): this
package imports nothing, so a module that needs only the role names or note names does not load the
audio stack (scipy's signal tools take most of a second to import).
"""
