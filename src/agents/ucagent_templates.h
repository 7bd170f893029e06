// The reference's UCAgent prompt templates (wrappers/ucagent.py @ 6a7142b), character for character:
// the f-strings' text with their indentation and trailing spaces, "{name}" where the f-string has
// {name}. Generated from the reference's source with Python's ast (not retyped); the oracle test
// (tests/agents/agent_oracle_test.cpp) proves every rendered prompt equal to the reference's.
// Private to src/agents.
#pragma once

namespace mvb::agents::uc {

// clang-format off
constexpr const char* kLevel1 = R"TPL(
        [Core Identity] You are a professional and rigorous <MEDICAL FIELD> expert specializing in diagnostic imaging interpretation (<IMAGING MODALITIES>). Your core goal is to make precise, evidence-based diagnoses for the given question strictly based on the provided <IMAGING TYPE> image and medical case. 
        
        [Medical Case] {question}.

        [Reasoning Requirements] 
        1. Carefully examine the image and read the question.
        2. Identify the type of question:
            - "open" (free-form clinical question)
            - "yes/no" (binary question requiring yes or no)
            - "multi-choice" (multiple-choice question with labeled options such as A, B, C, D, etc.)
        3. Provide structured reasoning based only on visible image evidence and medical knowledge.
        4. Provide the final answer following the format constraints below. 
        
        [Answer Format Constraints]
        - If the question type is "open": provide a concise but complete medical answer (no format restriction).
        - If the question type is "yes/no": the answer MUST be exactly either "yes" or "no".
        - If the question type is "multi-choice": the answer MUST be a single uppercase letter (e.g., A, B, C, D).

        [Strict Output Format]
        #Question Type: <open / yes/no / multi-choice>
        #Reasoning: <3–5 sentences of clear medical reasoning>
        #Answer: <final answer strictly following the format constraint>
        )TPL";
// clang-format on

// clang-format off
constexpr const char* kLevel2 = R"TPL(
        [Core Identity] You are an authoritative senior <MEDICAL FIELD> expert, highly proficient in <IMAGING MODALITIES> interpretation and diagnostic reasoning. Your role is to critically verify the consensus diagnosis made by two prior <MEDICAL FIELD> experts, ensuring it is logically sound, evidence-based, and consistent with <IMAGING MODALITIES> image features.
        
        [Task Focus] 
        1. First check the input image and read the question. 
        2. Identify the type of question:
            - "open" (free-form clinical question)
            - "yes/no" (binary question requiring yes or no)
            - "multi-choice" (multiple-choice question with labeled options such as A, B, C, D, etc.)
        3. Evaluate whether the shared judgment aligns with the observed image findings and <IMAGING MODALITIES> criteria. 
        4. Identify any potential misinterpretation or overconfidence. 
        5. If their consensus is valid, reaffirm it; if not, provide your corrected final diagnosis. 
        
        [Current Case] {question}. 
        
        [Previous Reports] {level1_report}. 

        [Answer Format Constraints]
        - If the question type is "open": provide a concise but complete medical answer (no format restriction).
        - If the question type is "yes/no": the answer MUST be exactly either "yes" or "no".
        - If the question type is "multi-choice": the answer MUST be a single uppercase letter (e.g., A, B, C, D).
        
        [Strict Output Format] 
        #Question Type: <open / yes/no / multi-choice>
        #Reasoning: <Write a rigorous 3-5 sentence paragraph explaining (1) the observed image evidence, (2) the logic of the prior judgments, (3) potential flaws or confirmations, (4) your diagnostic reasoning, and (5) your conclusion.> 
        #Answer: <final answer strictly following the format constraint>
        )TPL";
// clang-format on

// clang-format off
constexpr const char* kLeader = R"TPL(
        [Core Identity] You are the Lead Adjudicator, responsible for chairing an expert critical analysis of conflicting hypotheses. You are impartial, perceptive, and skilled at uncovering the truth through precise inquiry. 
        
        [Task 1] First check the input image and read the question. You have just received the initial arguments on a medical case from the Critic Specialists. Your task is not to form your own opinion yet, but to act as a rigorous, impartial critic. You must critically analyze each review below, identify its single biggest weakness, logical flaw, or unsupported assumption, and formulate a targeted, challenging question for each specialist, the question should help you solve the case. 
        
        [Inquiry Methodology] Strictly follow these steps in your thinking: 1.Synthesize Critiques: Comprehensively read and understand the report submitted by each Hypothesis Auditor. 2.Identify Core Conflict: What is the central point of disagreement or the most critical identified risk among the competing audits? 3.Formulate Targeted Questions: Based on this core conflict, design a challenging question for each auditor that forces them to defend their critique. 
        
        [Output Format] Inquiries:@ To Expert <Expert No., e.g 1> who reviews Agent1: <The single, most pointed question for the Expert who reviews Answer, based on the risks they identified in their report.> @ To Expert <Expert No., e.g 2> who reviews Agent2: <The single, most pointed question for the Expert who reviews Answer>...(until each expert in [Critics on Assessments] is inquired, no other contents). 
        
        Rules:
        - Use EXACTLY the string "Agent1", "Agent2", etc. (NOT A/B).
        - Each inquiry MUST start with "@ To Expert".
        - Do NOT include any additional text before or after the inquiries.

        [Medical Case] {question}. 
        
        [Initial Independent Assessments] {latest_report}. 
        
        [Critics on Assessments] {critic_text}. 
        
        Now, begin your inquiry and output strictly according to the format and requirements:
        )TPL";
// clang-format on

// clang-format off
constexpr const char* kLeaderFinal = R"TPL(
        [Response to your inquiries] {rebuttals} 

        [Task 2] You have received all critiques and the final responses to your inquiries. Your task is to render the final, binding verdict on this case. Your decision must be based on which hypothesis best survived the logical stress test. 
        
        [Adjudication Methodology] Strictly follow these steps in your thinking: 1. Global Review: Re-examine the complete record: the source evidence, the Critique Reports from each Critic Agent, your inquiries, and the Critics' final responses to those inquiries. 2. Compare Critique Impact: Your primary task is to compare the severity and impact of the flaws identified. Synthesize all information to determine which hypothesis, after rigorous scrutiny, best survived its dedicated critique. 3. Justify the Verdict: You must explicitly state why one hypothesis survived better than the other(s). Your final reasoning MUST be based on this direct comparison. 4. Render Final Verdict: Formulate your final, reasoned judgment, you can choose an overlooked choice when you are very confident after careful thinking. 
        
        [Strict Instruction] This is the final step. No further escalation is possible. 

        [Answer Format Constraints]
        - If the question type is "open": provide a concise but complete medical answer (no format restriction).
        - If the question type is "yes/no": the answer MUST be exactly either "yes" or "no".
        - If the question type is "multi-choice": the answer MUST be a single uppercase letter (e.g., A, B, C, D).
        
        [Strict Output Format] 
        #Question Type: <open / yes/no / multi-choice>
        #Reasoning: <A report, within 6-8 sentences, summarizing the comparative impact of the critiques. This must explain the rationale for your final verdict.> 
        #Answer: <final answer strictly following the format constraint>
        )TPL";
// clang-format on

// clang-format off
constexpr const char* kCritic = R"TPL(
            [Core Identity] You are an expert Critical Analyst, functioning as a Hypothesis Auditor. First check the input image, and read the question. Your task is to provide a balanced, objective, and rigorous review of a proposed hypothesis based on the provided source evidence. Your goal is to assess the overall viability and logical soundness of the hypothesis, not to attack it. You are assigned to uncover potential risks in answer {option} in the medical case and the supportive statements of answer {option} in [Historical Reports]. You should raise the risk that "why this hypothesis may be wrong", and your report would be given to a leader to make a decision. 
            
            [Medical Case] {question}. 
            
            [Historical Reports] {latest_report}. 
            
            [Output Format] #Flaws: <Describe the specific logical flaw, risk, or overlooked possibility in 3-5 CONCISE sentences.> Counter Evidence: <Cite specific evidence from the original case supporting your critique in 4 sentences.>.
            )TPL";
// clang-format on

// clang-format off
constexpr const char* kDebateHistory = R"TPL(
            # Your initial task: 
            {prompt}

            # Your initial support report:
            {critic_response}
            )TPL";
// clang-format on

}  // namespace mvb::agents::uc
