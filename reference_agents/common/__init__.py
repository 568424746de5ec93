"""What all reference agents share: the human-in-the-loop contract (:mod:`.hitl`), the optional LLM
path (:mod:`.llm`), the narrative and its source (:mod:`.narrative`), and policy loading with a
spec's overrides (:mod:`.policy`)."""
